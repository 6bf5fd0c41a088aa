"""page_status runs on the reader connection: it never waits behind the writer, and it still sees
every write of this store that returned (or was cancelled) before it was asked.

Why that holds in WAL mode: a read transaction sees every transaction committed before its first
read, and a write returns to its caller (or hands it its CancelledError) only once its COMMIT or
ROLLBACK finished on the writer's thread (db.py). A write still in flight is not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from tui_scraper.backends.sqlite import Store, frontier
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress, Status

from .helpers import config

SITE = "http://127.0.0.1:9"


async def _running(store: Store) -> str:
    record = await store.create_session(config(), who="t")
    await store.transition(record.id, Status.RUNNING, reason="go", who="t")
    return record.id


async def _writer_view(store: Store, session_id: str, url: str) -> PageStatus | None:
    """The same question asked on the writer connection, between transaction blocks."""
    return await store._db.run(frontier.page_status, session_id, url)


async def test_page_status_answers_while_a_write_transaction_is_open(store: Store) -> None:
    session_id = await _running(store)
    seed_url = f"{SITE}/"
    opened, release = asyncio.Event(), asyncio.Event()

    async def long_write() -> None:
        async with store._db.transaction() as tx:
            await tx.execute("UPDATE pages SET status = 'done' WHERE session_id = ?", (session_id,))
            opened.set()
            await release.wait()

    writer = asyncio.create_task(long_write())
    await opened.wait()
    try:
        # On the writer this would queue behind the open block; the reader answers at once,
        # with the last committed state (the block's change is not committed yet).
        status = await asyncio.wait_for(store.page_status(session_id, seed_url), timeout=10)
        assert status is PageStatus.QUEUED
    finally:
        release.set()
        await writer
    assert await store.page_status(session_id, seed_url) is PageStatus.DONE


async def test_page_status_sees_each_returned_write_at_once(store: Store) -> None:
    session_id = await _running(store)
    [seed] = await store.claim_batch(session_id, 1, now=0)
    for round_ in range(150):
        url = f"{SITE}/r{round_}"
        found = [DiscoveredLink(url, 1, seed.id)]
        result = PageResult(seed.id, seed.url, PageStatus.DONE, 1, links=found)
        assert await store.checkpoint(session_id, [result], Progress(), heartbeat=1) == 1
        assert await store.page_status(session_id, url) is PageStatus.QUEUED
        [page] = await store.claim_batch(session_id, 1, now=0)
        assert await store.page_status(session_id, url) is PageStatus.FETCHING
        if round_ % 2:
            assert await store.requeue_fetching(session_id) == 1
            assert await store.page_status(session_id, url) is PageStatus.QUEUED
            [page] = await store.claim_batch(session_id, 1, now=0)
        done = PageResult(page.id, page.url, PageStatus.DONE, 1)
        await store.checkpoint(session_id, [done], Progress(), heartbeat=1)
        assert await store.page_status(session_id, url) is PageStatus.DONE


async def test_after_a_cancelled_write_the_reader_agrees_with_the_writer(data_dir: Path) -> None:
    store = await Store.open(data_dir)
    try:
        session_id = await _running(store)
        [seed] = await store.claim_batch(session_id, 1, now=0)
        found = [DiscoveredLink(f"{SITE}/c{i}", 1, seed.id) for i in range(300)]
        result = PageResult(seed.id, seed.url, PageStatus.DONE, 1, links=found)
        outcomes = set()
        for step in range(12):
            task = asyncio.create_task(
                store.checkpoint(session_id, [result], Progress(), heartbeat=1)
            )
            for _ in range(step):  # cancel at a different await each round
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for url in (seed.url, found[0].url, found[-1].url):
                seen = await store.page_status(session_id, url)
                assert seen == await _writer_view(store, session_id, url)
            outcomes.add(await store.page_status(session_id, seed.url))
            if PageStatus.DONE in outcomes:
                break
        assert outcomes <= {PageStatus.FETCHING, PageStatus.DONE}
    finally:
        await store.close()
