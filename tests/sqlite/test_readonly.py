"""A read-only store writes nothing: no byte of the file, no -wal/-shm it did not find.

`sessions`, `show` and `export` open the store this way; a read must leave the data directory
exactly as it was (a backup, a read-only mount, a crawl of another user's data).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tui_scraper.backends.sqlite import Store, lease
from tui_scraper.domain.status import Status

from .helpers import child_env, child_script, config, fingerprint


async def _seeded(data_dir: Path) -> str:
    async with await Store.open(data_dir) as store:
        record = await store.create_session(config(), who="t")
        await store.transition(record.id, Status.RUNNING, reason="go", who="t")
        return record.id


async def test_readonly_reads_leave_the_directory_untouched(data_dir: Path) -> None:
    session_id = await _seeded(data_dir)  # closed: running, an orphan a writer would reap
    before = fingerprint(data_dir)
    assert not any(name.endswith(("-wal", "-shm")) for name in before)

    async with await Store.open(data_dir, readonly=True) as store:
        assert store.readonly
        [record] = await store.list_sessions()
        # Its owner is gone (nobody holds its lock): shown as what a writer will record,
        # interrupted, while its row stays `running` for that writer to reap.
        assert record.id == session_id and record.status == Status.INTERRUPTED
        assert (await store.get_session(session_id)).id == session_id
        assert await store.page_counts(session_id)
        assert [page.url async for page in store.iter_pages(session_id)]
        assert await store.page_status(session_id, "http://127.0.0.1:9/") is not None
        assert fingerprint(data_dir) == before  # nothing created while open either

    assert fingerprint(data_dir) == before
    async with await Store.open(data_dir) as writer:  # the row itself was never changed
        assert (await writer.get_session(session_id)).status == Status.RUNNING


async def test_readonly_sees_a_writer_that_attaches_later(data_dir: Path) -> None:
    session_id = await _seeded(data_dir)
    async with await Store.open(data_dir, readonly=True) as reader:
        assert (await reader.get_session(session_id)).status == Status.INTERRUPTED  # an orphan
        async with await Store.open(data_dir) as writer:
            await writer.transition(session_id, Status.PAUSED, reason="p", who="t")
            # The writer's WAL holds the change: the reader must read through it.
            assert (await reader.get_session(session_id)).status == Status.PAUSED
            second = await writer.create_session(config(), who="t")
            assert {r.id for r in await reader.list_sessions()} == {session_id, second.id}


async def test_readonly_on_a_live_writer_uses_its_files(data_dir: Path) -> None:
    session_id = await _seeded(data_dir)
    async with await Store.open(data_dir) as writer:
        await writer.transition(session_id, Status.PAUSED, reason="p", who="t")
        async with await Store.open(data_dir, readonly=True) as reader:
            assert (await reader.get_session(session_id)).status == Status.PAUSED


UNCLOSED = """
    import asyncio, sys
    from pathlib import Path
    from tui_scraper.backends.sqlite import Store

    KEPT = []  # still referenced at exit, as by a crashed app's frame or a cycle

    async def main() -> None:
        writer = await Store.open(Path(sys.argv[1]))
        reader = await Store.open(Path(sys.argv[1]), readonly=True)
        await writer.list_sessions()
        await reader.list_sessions()
        KEPT.extend([writer, reader])
        print("opened", flush=True)  # and never closed: an error path that forgot to

    asyncio.run(main())
"""


def test_a_store_left_open_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    # aiosqlite's worker threads would block interpreter exit; ours are daemons (what a
    # dying process leaves is what kill -9 leaves, which the store is built to survive).
    done = subprocess.run(
        [*child_script(tmp_path, "unclosed", UNCLOSED), str(tmp_path / "data")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "opened\n"


async def test_readonly_shows_a_session_with_a_live_owner_as_running(data_dir: Path) -> None:
    session_id = await _seeded(data_dir)
    held = lease.try_lock(data_dir, session_id)  # what a live crawl holds for its whole run
    assert held is not None
    try:
        before = fingerprint(data_dir)
        async with await Store.open(data_dir, readonly=True) as reader:
            assert (await reader.get_session(session_id)).status == Status.RUNNING
        assert fingerprint(data_dir) == before
    finally:
        held.release()
