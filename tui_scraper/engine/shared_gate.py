"""The host gate of a session several workers crawl: politeness held for the whole crawl.

`SharedHostGate` is a `HostGate` whose per-host concurrency and spacing (the rate, a robots.txt
Crawl-delay) are reserved in the store (`ports.HostPacing`) for every worker of the session, not
kept in this process's memory: with three workers a host still gets `per_host` requests in
flight and `rate` starts a second, not three times that. This worker still never has more than
`per_host` of its own in flight on a host (the lane's semaphore), and reserves one start on a
host at a time (the lane's lock): a refused reservation (the host is full) is asked again after a
short pause, and a granted one is waited out before the next is asked for, so this worker holds
at most one start in the future per host and a rate tuned meanwhile applies from the next one.

Where nothing spaces a host's requests and no other worker waits for it (the store says so with
each start: `may_keep`), a start that ends is kept for this worker's next request on the host,
for up to KEEP_S from its reservation, instead of being released and reserved again (what is
not taken by then goes back): the unthrottled path then costs about one round trip per start
in use per KEEP_S rather than two per request, and a worker refused meanwhile is first in line
for the next start the store sees freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from ..domain.records import HostStart
from ..ports import HostPacing
from .politeness import HostGate, _Lane

__all__ = ["SharedHostGate"]

# A host full of other workers' requests is asked again after this, doubling up to the cap
# (below the store's hold on a refused worker's claim to the next slot freed).
FULL_RETRY_FIRST_S: Final = 0.005
FULL_RETRY_CAP_S: Final = 0.05
# How long a start the store lets us keep (no spacing, nobody else waiting) is handed on from one
# of this worker's requests to the next on the same host without asking the store again, and at
# most how long it waits unused for one before it is given back: the unthrottled path costs
# about one round trip per start in use per KEEP_S rather than two per request, and a rate tuned
# or another worker wanting the host is learnt within this long.
KEEP_S: Final = 0.5


@dataclass(slots=True)
class _Held:
    start: HostStart
    keep_until: float  # monotonic


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
        self._kept: dict[str, list[_Held]] = {}  # host → starts kept for our next request
        self._expiry: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        lane = self._lane(host)
        lane.users += 1  # counted from here: a lane with a waiter is never dropped
        try:
            async with lane.sem:
                held = await self._take_kept(host) or await self._reserve(lane, host)
                try:
                    yield
                finally:
                    await self._done(held)
        finally:
            lane.users -= 1

    @property
    def kept(self) -> int:
        """Starts held in the store for requests of ours to come (tests, figures)."""
        return sum(len(held) for held in self._kept.values())

    async def aclose(self) -> None:
        """The crawl's run ends: every start kept goes back to the store."""
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(BaseException):
                await self._expiry
            self._expiry = None
        kept, self._kept = self._kept, {}
        for held in (h for hosts in kept.values() for h in hosts):
            await self._pacing.release_host(self._session_id, held.start)

    async def _take_kept(self, host: str) -> _Held | None:
        kept = self._kept.get(host)
        while kept:
            held = kept.pop()
            if not kept:
                del self._kept[host]
            if self._clock() < held.keep_until:
                return held
            await self._pacing.release_host(self._session_id, held.start)
        return None

    async def _done(self, held: _Held) -> None:
        """Keep the start for our next request on the host while the store lets us, else give
        it back."""
        if held.start.may_keep and self._clock() < held.keep_until:
            self._kept.setdefault(held.start.host, []).append(held)
            if self._expiry is None or self._expiry.done():
                self._expiry = asyncio.create_task(self._expire_kept())
            return
        await self._pacing.release_host(self._session_id, held.start)

    async def _expire_kept(self) -> None:
        """Starts kept past their time, with no request of ours taking them, go back."""
        while self._kept:
            soonest = min(h.keep_until for hosts in self._kept.values() for h in hosts)
            await asyncio.sleep(max(0.0, soonest - self._clock()))
            now = self._clock()
            for host, hosts in list(self._kept.items()):
                expired = [h for h in hosts if h.keep_until <= now]
                if not expired:
                    continue
                hosts[:] = [h for h in hosts if h.keep_until > now]
                if not hosts:
                    del self._kept[host]
                for held in expired:
                    # Lost with the database out of reach: the store drops a worker's slots
                    # when it leaves the session (or dies), so none is kept for good.
                    with contextlib.suppress(Exception):
                        await self._pacing.release_host(self._session_id, held.start)

    async def _reserve(self, lane: _Lane, host: str) -> _Held:
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
                # Refused perhaps for our own starts: one of them may be kept by now.
                kept = await self._take_kept(host)
                if kept is not None:
                    return kept
            try:
                if start.wait_s > 0.0:
                    await asyncio.sleep(start.wait_s)
            except BaseException:
                # Cancelled before it started (the crawl stops): the start is given back.
                await self._pacing.release_host(self._session_id, start)
                raise
            lane.last_start = self._clock()
            return _Held(start, keep_until=lane.last_start + KEEP_S)
