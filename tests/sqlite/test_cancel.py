"""T09: cancelling checkpoint (or any write) at every await never leaves half a batch or an open
transaction, and the next batch commits normally."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress, Status

from .helpers import config

BATCH = 200


async def prepared(data_dir: Path) -> tuple[Store, str, list[PageResult]]:
    store = await Store.open(data_dir)
    record = await store.create_session(config(), who="t")
    await store.transition(record.id, Status.RUNNING, reason="go", who="t")
    [seed] = await store.claim_batch(record.id, 1, now=0)
    seed_links = [DiscoveredLink(f"http://127.0.0.1:9/p{i}", 1, seed.id) for i in range(BATCH)]
    seed_result = PageResult(seed.id, seed.url, PageStatus.DONE, 1, links=seed_links)
    await store.checkpoint(record.id, [seed_result], Progress(), heartbeat=1)
    claimed = await store.claim_batch(record.id, BATCH, now=0)
    results = [
        PageResult(
            p.id,
            p.url,
            PageStatus.DONE,
            1,
            title=f"t{p.id}",
            links=[DiscoveredLink(f"{p.url}/c{j}", 2, p.id) for j in range(10)],
        )
        for p in claimed
    ]
    return store, record.id, results


async def batch_state(store: Store, session_id: str) -> tuple[int, int, int, bool]:
    counts = await store.page_counts(session_id)
    record = await store.get_session(session_id)
    open_txn = await store._db.run(lambda c: c.in_transaction)
    return counts[PageStatus.DONE], sum(counts.values()), record.progress.done, open_txn


async def check_all_or_nothing(store: Store, sid: str, results: list[PageResult]) -> bool:
    done, total, progress_done, open_txn = await batch_state(store, sid)
    assert not open_txn
    before = (1, 1 + BATCH, 0)
    after = (1 + BATCH, 1 + BATCH + BATCH * 10, 7)
    assert (done, total, progress_done) in (before, after), (done, total, progress_done)
    committed = (done, total, progress_done) == after
    # The next batch (a replay of the same results) commits normally and is idempotent.
    added = await store.checkpoint(sid, results, Progress(done=7), heartbeat=3)
    assert added == (0 if committed else BATCH * 10)
    assert (await batch_state(store, sid))[:3] == after
    return committed


@pytest.mark.parametrize("steps", list(range(0, 12)))
async def test_cancel_after_n_loop_steps(data_dir: Path, steps: int) -> None:
    store, sid, results = await prepared(data_dir)
    try:
        task = asyncio.create_task(store.checkpoint(sid, results, Progress(done=7), heartbeat=2))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await check_all_or_nothing(store, sid, results)
    finally:
        await store.close()


@pytest.mark.parametrize("delay_ms", [0.1, 0.5, 1, 2, 4, 8, 16, 40])
async def test_timeout_lands_mid_transaction(data_dir: Path, delay_ms: float) -> None:
    store, sid, results = await prepared(data_dir)
    try:
        try:
            async with asyncio.timeout(delay_ms / 1000):
                await store.checkpoint(sid, results, Progress(done=7), heartbeat=2)
        except TimeoutError:
            pass
        await check_all_or_nothing(store, sid, results)
    finally:
        await store.close()


async def test_cancel_of_other_writes_leaves_no_open_txn(data_dir: Path) -> None:
    store, sid, _ = await prepared(data_dir)
    try:
        for steps in range(6):
            task = asyncio.create_task(store.claim_batch(sid, 50, now=0))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert not await store._db.run(lambda c: c.in_transaction)
            task = asyncio.create_task(store.transition(sid, Status.PAUSED, reason="p", who="t"))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            record = await store.get_session(sid)
            events = await store.events(sid)
            # status and its event commit together or not at all
            assert (record.status == Status.PAUSED) == (events[-1].to_status == Status.PAUSED)
            if record.status == Status.PAUSED:
                await store.transition(sid, Status.RUNNING, reason="r", who="t")
        # claims that committed after their caller was cancelled are recovered by requeue
        await store.requeue_fetching(sid)
        assert (await store.page_counts(sid))[PageStatus.FETCHING] == 0
    finally:
        await store.close()
