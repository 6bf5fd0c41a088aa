"""The store-backed follower (service/store_follow.py) on a real PostgreSQL: a checkpoint's
NOTIFY wakes it long before its poll (told by the wake reason, never by timing), a pause is
seen when it happens and ends the watch, a restarted server never freezes it, and on SQLite it
polls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store
from tui_scraper.backends.postgres.notify import parse_payload
from tui_scraper.backends.sqlite.store import Store as SqliteStore
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress, Status
from tui_scraper.service import ProgressSnapshot
from tui_scraper.service.store_follow import StoreFollower

from .helpers import SITE, config, owner, sql, until

# Far longer than any test waits: a snapshot that comes is a woken one, not a polled one.
NEVER_POLL_S = 600.0


async def _next(snapshots: AsyncIterator[ProgressSnapshot]) -> ProgressSnapshot:
    async with asyncio.timeout(30):
        return await anext(snapshots)


async def _listening(follower: StoreFollower) -> None:
    async def check() -> bool:
        return follower.wakes.get("listening", 0) >= 1 and follower.waiting

    await until(check, what="the follower listening, and waiting for a hint")


async def test_a_checkpoint_wakes_the_follower_well_before_its_poll(pg_url: str) -> None:
    runner = await Store.open(pg_url)
    client = await Store.open(pg_url, readonly=True)
    try:
        record = await runner.create_session(config(), who="t")
        await runner.acquire_run(record.id, owner(), who="t", reason="go")
        [seed] = await runner.claim_batch(record.id, 1, now=0)
        follower = StoreFollower(client, client.lease_holder, record.id, poll_s=NEVER_POLL_S)
        snapshots = aiter(follower)
        first = await _next(snapshots)
        assert first.live and first.status is Status.RUNNING and first.progress.done == 0
        woken = asyncio.ensure_future(_next(snapshots))
        await _listening(follower)
        result = PageResult(
            page_id=seed.id,
            url=seed.url,
            status=PageStatus.DONE,
            attempts=1,
            title="Seed",
            fetched_at=1.0,
            links=[DiscoveredLink(f"{SITE}/next", 1, seed.id)],
        )
        await runner.checkpoint(record.id, [result], Progress(done=1, queued=0), heartbeat=1)
        moved = await woken
        assert follower.last_wake == "notify"
        assert follower.wakes.get("poll", 0) == 0
        assert moved.progress.done == 1 and moved.progress.queued == 1
        assert [page.url for page in moved.recent] == [seed.url]
        assert moved.recent[0].title == "Seed" and moved.seq > first.seq

        # A pause (a state change) is announced too: the last snapshot, then the end.
        ended = asyncio.ensure_future(_next(snapshots))
        await runner.transition(record.id, Status.PAUSED, reason="pause by t", who="t")
        paused = await ended
        assert follower.last_wake == "notify"
        assert paused.status is Status.PAUSED and not paused.live
        async with asyncio.timeout(30):
            assert [s async for s in snapshots] == []
    finally:
        await client.close()
        await runner.close()


async def test_the_notify_payload_is_the_session_and_a_seq(pg_url: str) -> None:
    """Small (the server refuses over 8,000 bytes) and no replay: an id and a number."""
    import psycopg

    runner = await Store.open(pg_url)
    listener = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    try:
        await listener.execute("LISTEN tui_scraper")
        record = await runner.create_session(config(), who="t")
        await runner.transition(record.id, Status.RUNNING, reason="go", who="t")
        async with asyncio.timeout(30):
            note = await anext(listener.notifies())
        session_id, seq = parse_payload(note.payload)
        assert session_id == record.id and seq is not None and seq > 0
        assert len(note.payload.encode()) < 100
    finally:
        await listener.close()
        await runner.close()


async def test_a_failed_page_becomes_an_error_line(pg_url: str) -> None:
    runner = await Store.open(pg_url)
    try:
        record = await runner.create_session(config(), who="t")
        await runner.acquire_run(record.id, owner(), who="t", reason="go")
        [seed] = await runner.claim_batch(record.id, 1, now=0)
        failed = PageResult(
            page_id=seed.id,
            url=seed.url,
            status=PageStatus.FAILED,
            attempts=1,
            error={"kind": "http", "message": "HTTP 500 [/x]"},
            fetched_at=1.0,
        )
        await runner.checkpoint(record.id, [failed], Progress(failed=1), heartbeat=1)
        follower = StoreFollower(runner, runner.lease_holder, record.id, poll_s=NEVER_POLL_S)
        snapshot = await _next(aiter(follower))
        # The site's text is kept as it is here; the screen makes it safe when it shows it.
        assert snapshot.errors == (f"{seed.url}: HTTP 500 [/x]",)
        assert snapshot.recent[0].status == "failed"
    finally:
        await runner.close()


async def test_a_restarted_server_never_freezes_the_follower(
    pg_server: PgServer, pg_url: str
) -> None:
    """The LISTEN dies with the server; the follower listens again and reads what changed while
    nobody listened (its reads wait the restart out)."""
    runner = await Store.open(pg_url)
    # Writable, as the app is (a read-only look shows a lockless moment as interrupted).
    client = await Store.open(pg_url)
    try:
        record = await runner.create_session(config(), who="t")
        await runner.acquire_run(record.id, owner(), who="t", reason="go")
        [seed] = await runner.claim_batch(record.id, 1, now=0)
        follower = StoreFollower(client, client.lease_holder, record.id, poll_s=NEVER_POLL_S)
        snapshots = aiter(follower)
        await _next(snapshots)
        woken = asyncio.ensure_future(_next(snapshots))
        await _listening(follower)
        await asyncio.to_thread(pg_server.restart)
        await runner.renew_run(record.id)  # the lease lock, lost with the restart, taken again
        result = PageResult(
            page_id=seed.id,
            url=seed.url,
            status=PageStatus.DONE,
            attempts=1,
            fetched_at=1.0,
            links=[DiscoveredLink(f"{SITE}/after", 1, seed.id)],
        )
        await runner.checkpoint(record.id, [result], Progress(done=1), heartbeat=2)
        moved = await woken
        while moved.progress.done != 1:
            moved = await _next(snapshots)
        assert follower.wakes.get("lost", 0) == 1  # read at once, not at the (far) poll
        # It listens again: the next checkpoint is a hint again.
        woken = asyncio.ensure_future(_next(snapshots))
        await until(
            lambda: _true(follower.wakes.get("listening", 0) >= 2 and follower.waiting),
            what="listening again",
        )
        [after] = await runner.claim_batch(record.id, 1, now=0)
        done = PageResult(
            page_id=after.id, url=after.url, status=PageStatus.DONE, attempts=1, fetched_at=2.0
        )
        await runner.checkpoint(record.id, [done], Progress(done=2), heartbeat=3)
        assert (await woken).progress.done == 2 and follower.last_wake == "notify"
    finally:
        await client.close()
        await runner.close()


async def test_a_worker_gone_ends_the_follow(pg_url: str) -> None:
    """Nobody holds the lease any more (the worker was killed): the watch ends; the caller
    shows the session as interrupted."""
    runner = await Store.open(pg_url)
    client = await Store.open(pg_url)
    try:
        record = await runner.create_session(config(), who="t")
        await runner.acquire_run(record.id, owner(), who="t", reason="go")
        follower = StoreFollower(client, client.lease_holder, record.id, poll_s=0.2, gone_grace_s=0)
        snapshots = aiter(follower)
        assert (await _next(snapshots)).live
        rest = asyncio.ensure_future(_collect(snapshots))
        # What a SIGKILL does to the owner: its lock connection and its lease are gone.
        sql(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid <> pg_backend_pid() "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        async with asyncio.timeout(30):
            assert await rest == []
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await runner.close()


async def _true(value: bool) -> bool:
    return value


async def _collect(snapshots: AsyncIterator[ProgressSnapshot]) -> list[ProgressSnapshot]:
    return [s async for s in snapshots]


async def test_on_sqlite_the_follower_polls(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "data")
    try:
        record = await store.create_session(config(), who="t")
        await store.transition(record.id, Status.RUNNING, reason="go", who="t")
        [seed] = await store.claim_batch(record.id, 1, now=0)

        async def always_held(_session_id: str) -> dict[str, object]:
            return {"pid": 1}

        follower = StoreFollower(store, always_held, record.id, poll_s=0.2)
        snapshots = aiter(follower)
        assert (await _next(snapshots)).progress.done == 0
        result = PageResult(
            page_id=seed.id, url=seed.url, status=PageStatus.DONE, attempts=1, fetched_at=1.0
        )
        await store.checkpoint(record.id, [result], Progress(done=1), heartbeat=1)
        moved = await _next(snapshots)
        assert moved.progress.done == 1 and follower.last_wake == "poll"
    finally:
        await store.close()


async def test_a_stale_socket_left_by_a_killed_worker_is_not_a_channel() -> None:
    """The follower is chosen over a socket file nobody serves (a worker SIGKILLed here left
    it, while the session runs on elsewhere); a missing one is no channel either."""
    import socket
    import tempfile

    from tui_scraper.runtime.channel.paths import socket_path
    from tui_scraper.service.follow_choice import channel_answers

    session_id = "ab" * 16
    with tempfile.TemporaryDirectory(prefix="tsf") as root:
        data_dir = Path(root)
        assert await channel_answers(data_dir, session_id) is False
        path = socket_path(data_dir, session_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(path))
        stale.close()  # bound, never listening: what a killed worker leaves
        assert path.exists()
        assert await channel_answers(data_dir, session_id, timeout=1) is False


async def test_a_session_left_to_a_joined_worker_is_followed_to_its_end(pg_url: str) -> None:
    """The owner gone (its lock with it), a joined worker runs on: the follower stays live
    (that worker's lease counts), sees its checkpoints, and ends with the final state."""
    first = await Store.open(pg_url)
    joined = await Store.open(pg_url)
    client = await Store.open(pg_url)
    try:
        record = await first.create_session(config(), who="t")
        await first.acquire_run(record.id, owner("owner"), who="t", reason="go")
        await joined.join_run(record.id, owner("joined"), who="t")
        follower = StoreFollower(
            client, client.lease_holder, record.id, poll_s=NEVER_POLL_S, gone_grace_s=0
        )
        snapshots = aiter(follower)
        assert (await _next(snapshots)).live
        await first.close()  # the owner's process gone: its lock and worker row with it
        [seed] = await joined.claim_batch(record.id, 1, now=0)
        woken = asyncio.ensure_future(_next(snapshots))
        result = PageResult(
            page_id=seed.id, url=seed.url, status=PageStatus.DONE, attempts=1, fetched_at=1.0
        )
        await joined.checkpoint(record.id, [result], Progress(done=1), heartbeat=1)
        moved = await woken
        while moved.progress.done != 1:
            moved = await _next(snapshots)
        assert moved.live and moved.status is Status.RUNNING
        holder = await client.lease_holder(record.id)
        assert holder is not None and holder["run_id"] == "joined"
        assert await joined.conclude_run(record.id) == "finish"
        ended = asyncio.ensure_future(_collect(snapshots))
        await joined.transition(record.id, Status.COMPLETED, reason="done", who="t")
        async with asyncio.timeout(30):
            final = await ended
        assert final[-1].status is Status.COMPLETED and not final[-1].live
    finally:
        await client.close()
        await joined.close()
        with contextlib.suppress(Exception):
            await first.close()
