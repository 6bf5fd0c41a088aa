"""runtime/worker.py on its own: a session run from a data dir and its id, no SessionManager.

Real SQLite data dirs and real sites on 127.0.0.1 (tests/engine/site.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import CrawlConfig, InvalidTransition, PageStatus, SessionBusy, Status
from tui_scraper.ports import RuntimeStore
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import SessionRunner, run_session

from ..engine.invariants import assert_store_invariants, page_states, session_status
from ..engine.site import SiteServer, generated_site

PAGES = 120
CONCURRENCY = 4


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES)).start()
    yield server
    server.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "data")
    yield opened
    await opened.close()


async def new_session(store: Store, site: SiteServer) -> str:
    config = CrawlConfig(
        target_url=site.base + "/", concurrency=CONCURRENCY, per_host_concurrency=CONCURRENCY
    )
    return (await store.create_session(config, who="test")).id


def page_hits(site: SiteServer) -> dict[str, int]:
    return {path: n for path, n in site.hits().items() if path != "/robots.txt"}


async def runner_for(store: RuntimeStore, session_id: str, data_dir: Path) -> SessionRunner:
    return await SessionRunner.acquire(
        store, session_id, who="test", secrets=DataDirSecrets(data_dir), parse_workers=1
    )


async def wait_until_done_pages(runner: SessionRunner, task: asyncio.Task[Status], n: int) -> None:
    async with asyncio.timeout(60):
        while runner.stats.progress.done < n:
            assert not task.done(), "the crawl ended before it could be stopped"
            await asyncio.sleep(0.01)


def test_run_session_in_a_child_process_completes_every_page_once(
    tmp_path: Path, site: SiteServer
) -> None:
    """What the background worker will do: a process given only a data dir and a session id.
    The child never loads the manager or the service."""
    data_dir = tmp_path / "data"

    async def create() -> str:
        async with await Store.open(data_dir) as store:
            return await new_session(store, site)

    session_id = asyncio.run(create())
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tui_scraper.runtime.worker import run_session_in\n"
        "status = asyncio.run(run_session_in(Path(sys.argv[1]), sys.argv[2], parse_workers=1))\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(\n"
        "    ('tui_scraper.runtime.manager', 'tui_scraper.service', 'tui_scraper.ui')))\n"
        "print(status.value, loaded)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(data_dir), session_id],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONSAFEPATH": "1"},
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["completed", "[]"], child.stdout
    assert session_status(data_dir) == [(session_id, "completed")]
    states = page_states(data_dir)
    assert len(states) == PAGES and set(states.values()) == {"done"}
    hits = page_hits(site)
    assert len(hits) == PAGES and set(hits.values()) == {1}, hits
    assert_store_invariants(data_dir)


async def test_run_session_completes_and_writes_the_summary(store: Store, site: SiteServer) -> None:
    session_id = await new_session(store, site)
    status = await run_session(
        store, session_id, who="test", secrets=DataDirSecrets(store.data_dir), parse_workers=1
    )
    assert status is Status.COMPLETED
    record = await store.get_session(session_id)
    assert record.status is Status.COMPLETED and record.lease_owner is None
    assert record.summary and record.summary["pages"] == {"done": PAGES}
    assert not store.holds_lease(session_id)
    assert set(page_hits(site).values()) == {1}


async def test_a_second_runner_of_a_running_session_is_refused_by_the_lease(
    store: Store, site: SiteServer
) -> None:
    session_id = await new_session(store, site)
    first = await runner_for(store, session_id, store.data_dir)
    task = asyncio.create_task(first.run())
    try:
        # Another store on the same data dir, as another worker process would open it.
        async with await Store.open(store.data_dir) as other:
            with pytest.raises(SessionBusy, match=f"pid {os.getpid()}"):
                await runner_for(other, session_id, store.data_dir)
        # And a second runner in the same process (same store) is refused too.
        with pytest.raises(SessionBusy):
            await runner_for(store, session_id, store.data_dir)
        assert (await store.get_session(session_id)).status is Status.RUNNING
    finally:
        first.interrupt("test over")
        await task
    assert (
        await run_session(
            store, session_id, who="test", secrets=DataDirSecrets(store.data_dir), parse_workers=1
        )
        is Status.COMPLETED
    )  # the refused runners left nothing behind


async def test_interrupt_then_a_second_run_resumes_exactly(
    tmp_path: Path,
) -> None:
    pages = 1500
    server = SiteServer(generated_site(pages, filler=5)).start()
    try:
        async with await Store.open(tmp_path / "data") as store:
            session_id = await new_session(store, server)
            runner = await runner_for(store, session_id, store.data_dir)
            task = asyncio.create_task(runner.run())
            await wait_until_done_pages(runner, task, 100)
            runner.interrupt("stopped by the test", who="test")
            assert await task is Status.INTERRUPTED
            record = await store.get_session(session_id)
            assert record.status is Status.INTERRUPTED
            counts = await store.page_counts(session_id)
            assert counts.get(PageStatus.FETCHING, 0) == 0
            done_at_stop = counts[PageStatus.DONE]
            assert 100 <= done_at_stop < pages
            assert not store.holds_lease(session_id)

            resumed = await run_session(
                store,
                session_id,
                who="test",
                secrets=DataDirSecrets(store.data_dir),
                parse_workers=1,
            )
            assert resumed is Status.COMPLETED
        states = page_states(tmp_path / "data")
        assert len(states) == pages and set(states.values()) == {"done"}
        hits = page_hits(server)
        assert len(hits) == pages
        # An interrupt commits what finished; only requests still in flight when the grace
        # ran out are fetched again.
        refetched = sum(n - 1 for n in hits.values())
        assert refetched <= CONCURRENCY, refetched
        assert_store_invariants(tmp_path / "data")
    finally:
        server.stop()


async def test_a_final_session_is_refused_before_the_lease(store: Store, site: SiteServer) -> None:
    session_id = await new_session(store, site)
    secrets = DataDirSecrets(store.data_dir)
    assert await run_session(store, session_id, who="t", secrets=secrets) is Status.COMPLETED
    with pytest.raises(InvalidTransition):
        await run_session(store, session_id, who="t", secrets=secrets)
    assert not store.holds_lease(session_id)
