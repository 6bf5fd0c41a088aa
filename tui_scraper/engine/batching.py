"""Results waiting for their batch commit, and the bound on how many a kill can lose.

A batch never holds more than `BATCH_SIZE` rows, and while one is being committed at most
`BATCH_SIZE` more are gathered: a worker waits (`wait_for_room`) before adding to a full pending
batch. So a kill loses, and resume refetches, at most concurrency + 2 × BATCH_SIZE pages. A batch
is committed when it is full, on the `BATCH_SECONDS` timer, or when forced (the frontier ran dry,
the crawl stops). A commit that fails leaves its rows pending for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from ..domain.records import PageResult

__all__ = ["BATCH_SECONDS", "BATCH_SIZE", "IDLE_HEARTBEAT_S", "Batcher"]

BATCH_SIZE = 300
BATCH_SECONDS = 0.5
IDLE_HEARTBEAT_S = 5.0  # an idle crawl still commits (its progress, its heartbeat) this often

Commit = Callable[[list[PageResult]], Awaitable[None]]


class Batcher:
    def __init__(self, commit: Commit, *, size: int = BATCH_SIZE) -> None:
        self._commit = commit
        self._size = size
        self._pending: list[PageResult] = []
        self._lock = asyncio.Lock()
        self._room = asyncio.Event()  # set when a commit takes rows out of a full pending batch
        self._due = asyncio.Event()  # set when the pending batch is full
        self._last_commit = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    async def wait_for_room(self, rows: int) -> None:
        """Wait until `rows` more fit in the pending batch (a slow commit holds it full)."""
        while self._pending and len(self._pending) + rows > self._size:
            self._room.clear()
            self._due.set()
            await self._room.wait()

    def add(self, result: PageResult) -> None:
        self._pending.append(result)
        if len(self._pending) >= self._size:
            self._due.set()

    async def wait_due(self, timeout: float) -> None:
        """Until the pending batch is full, or `timeout`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), timeout)
        self._due.clear()

    async def flush(self, *, force: bool = False) -> None:
        """Commit everything pending, one batch at a time; an idle crawl only every
        IDLE_HEARTBEAT_S unless forced."""
        async with self._lock:
            idle = time.monotonic() - self._last_commit
            if not self._pending and not force and idle < IDLE_HEARTBEAT_S:
                return
            while True:
                await self._commit_one()
                if not self._pending:
                    return

    async def _commit_one(self) -> None:
        """Commit at most `size` rows; a redirect's source and target stay in one batch."""
        pending = self._pending
        cut = min(len(pending), self._size)
        while 0 < cut < len(pending) and pending[cut].page_id is None:
            cut -= 1  # pending[cut] is a redirect target: keep it with its source
        batch = pending[:cut]
        del pending[:cut]
        self._room.set()
        try:
            await self._commit(batch)
        except BaseException:
            # Nothing of it committed (one transaction): the rows wait for the next commit.
            pending[0:0] = batch
            raise
        self._last_commit = time.monotonic()
