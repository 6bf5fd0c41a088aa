"""The host gate of a session several workers crawl: politeness held for the whole crawl.

`SharedHostGate` is a `HostGate` whose per-host concurrency and spacing (the rate, a robots.txt
Crawl-delay) are reserved in the store (`ports.HostPacing`) for every worker of the session, not
kept in this process's memory: with three workers a host still gets `per_host` requests in
flight and `rate` starts a second, not three times that. This worker still never has more than
`per_host` of its own in flight on a host (the lane's semaphore), and reserves one start on a
host at a time (the lane's lock): a refused reservation (the host is full) is asked again after a
short pause, and a granted one is waited out before the next is asked for, so this worker holds
at most one start in the future per host and a rate tuned meanwhile applies from the next one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

from ..domain.records import HostStart
from ..ports import HostPacing
from .politeness import HostGate, _Lane

__all__ = ["SharedHostGate"]

# A host full of other workers' requests is asked again after this, doubling up to the cap.
FULL_RETRY_FIRST_S: Final = 0.005
FULL_RETRY_CAP_S: Final = 0.1


class SharedHostGate(HostGate):
    def __init__(
        self,
        pacing: HostPacing,
        session_id: str,
        per_host: int,
        rate_per_host: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(per_host, rate_per_host, clock=clock)
        self._pacing = pacing
        self._session_id = session_id

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        lane = self._lane(host)
        lane.users += 1  # counted from here: a lane with a waiter is never dropped
        try:
            async with lane.sem:
                start = await self._reserve(lane, host)
                try:
                    yield
                finally:
                    await self._pacing.release_host(self._session_id, start)
        finally:
            lane.users -= 1

    async def _reserve(self, lane: _Lane, host: str) -> HostStart:
        async with lane.pace:
            pause = FULL_RETRY_FIRST_S
            while True:
                start = await self._pacing.reserve_host(
                    self._session_id, host, per_host=self.per_host, crawl_delay=lane.delay
                )
                if start is not None:
                    break
                await asyncio.sleep(pause)
                pause = min(2 * pause, FULL_RETRY_CAP_S)
            try:
                if start.wait_s > 0.0:
                    await asyncio.sleep(start.wait_s)
            except BaseException:
                # Cancelled before it started (the crawl stops): the start is given back.
                await self._pacing.release_host(self._session_id, start)
                raise
            lane.last_start = self._clock()
            return start
