"""Claiming from the frontier: keep the workers' queue fed, and say when the frontier is done."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from ..domain.progress import Progress
from ..domain.records import ClaimedPage
from ..ports import Frontier
from .batching import Batcher

__all__ = ["Dispatcher"]


class Dispatcher:
    def __init__(
        self,
        *,
        store: Frontier,
        session_id: str,
        clock: Callable[[], float],
        queue: asyncio.Queue[ClaimedPage],
        batch: Batcher,
        changed: asyncio.Event,
        concurrency: int,
        counts: Callable[[], Progress],
        in_flight: Callable[[], int],
        on_claimed: Callable[[Sequence[ClaimedPage]], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._session_id = session_id
        self._clock = clock
        self._queue = queue
        self._batch = batch
        self._changed = changed  # set by the workers each time a page finishes
        self.concurrency = concurrency  # the crawl's in-flight limit; live tuning changes it
        self._counts = counts  # the crawl's live counters (replaced when reloaded from the store)
        self._in_flight = in_flight
        # Asked about each claimed batch before its pages are queued (a recrawl's lookup of
        # the earlier session's validators: one query per batch, not one per page).
        self._on_claimed = on_claimed

    async def run(self) -> None:
        """Keep the workers' queue fed from the frontier; return when nothing is left or due.

        Links found on a page become claimable only when their batch commits, so when the
        frontier runs dry the pending results are committed at once instead of waiting for the
        batch timer: otherwise the crawl would advance in waves, one per timer tick.
        """
        while True:
            low_water = max(1, self.concurrency // 2)
            claim_size = max(self.concurrency * 2, 32)
            if self._queue.qsize() >= low_water:
                await self._wait_for_change(0.05)
                continue
            claimed = await self._store.claim_batch(self._session_id, claim_size, self._clock())
            if claimed:
                if self._on_claimed is not None:
                    await self._on_claimed(claimed)
                counts = self._counts()
                counts.queued = max(0, counts.queued - len(claimed))
                counts.fetching += len(claimed)
                for page in claimed:
                    self._queue.put_nowait(page)
                continue
            if len(self._batch):
                await self._batch.flush(force=True)
                continue
            if self._in_flight() or not self._queue.empty():
                await self._wait_for_change(0.05)
                continue
            due = await self._store.next_due_time(self._session_id)
            if due is None:
                return
            await asyncio.sleep(min(max(due - self._clock(), 0.05), 1.0))

    async def _wait_for_change(self, timeout: float) -> None:
        """Sleep until a worker finishes a page (or `timeout`): no busy polling."""
        self._changed.clear()
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands as
        # the event fires, and a dispatcher that ignores its cancel never lets the crawl stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()
