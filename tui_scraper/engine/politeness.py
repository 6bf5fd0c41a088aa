"""Per-host politeness (concurrency, spacing) and host outage tracking.

`HostGate` bounds how hard we hit one host: at most `per_host` requests in flight and, with a rate
or a robots Crawl-delay, requests started at least 1/rate (or delay) seconds apart. The rate can
change while the crawl runs (live tuning): every host's next start is measured with the new one.
Its memory is bounded by the hosts in use, not by every host the crawl ever met: a host's lane (a
semaphore and a lock) is dropped once nothing uses it and its last paced start is older than any
spacing could be (whatever rate is tuned later), which leaves the host exactly as a new one would
be; only its Crawl-delay, if any, is kept (a float). This is the gate of a crawl that is the only
worker of its session (SQLite); a session several workers share (PostgreSQL) gets the subclass
in `shared_gate.py`, which reserves every start in the store for the whole crawl.

`HostHealth` is the crawler's counterpart of a reconnecting client: after a run of connect errors
or timeouts a host is *down*; instead of burning every queued page's retries against it, the
crawler sends one probe at a time, spaced by exponential backoff with full jitter, and resumes
when a probe gets any HTTP answer. It is pure state with an injected clock: no I/O, no sleeping.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

from ..backoff import backoff_delay
from ..domain.config import BOUNDS

__all__ = ["HostGate", "HostHealth"]

PACE_RECHECK_S: Final = 0.25
# Lanes kept before idle ones are dropped: a crawl of one site never drops any; one that visits
# many hosts keeps about as many lanes as it has hosts in use.
LANES_KEPT: Final = 1024
# The longest gap the slowest rate allowed asks for (robots.py caps a Crawl-delay below it): a
# lane whose last paced start is older has nothing left to enforce, even after a retune.
LONGEST_GAP_S: Final = 1.0 / BOUNDS["rate"][0]


@dataclass(slots=True)
class _Lane:
    sem: asyncio.Semaphore
    pace: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_start: float = float("-inf")  # monotonic time the last paced request started
    delay: float = 0.0  # Crawl-delay from robots.txt
    users: int = 0  # requests in slot(): waiting for it or holding it


class HostGate:
    def __init__(
        self,
        per_host: int,
        rate_per_host: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_host < 1:
            raise ValueError("per_host must be ≥ 1")
        if rate_per_host is not None and rate_per_host <= 0:
            raise ValueError("rate_per_host must be > 0")
        self.per_host = per_host
        self._interval = 0.0
        self.set_rate(rate_per_host)
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._delays: dict[str, float] = {}  # Crawl-delays, kept when a lane is dropped
        self._sweep_above = LANES_KEPT

    def set_rate(self, rate_per_host: float | None) -> None:
        """Requests per second per host from now on, for every host (None: no spacing). A
        request already waiting out the old gap starts by the new one."""
        if rate_per_host is not None and rate_per_host <= 0:
            raise ValueError("rate_per_host must be > 0")
        self._interval = 1.0 / rate_per_host if rate_per_host else 0.0

    def _spacing(self, lane: _Lane) -> float:
        return max(self._interval, lane.delay)

    def _lane(self, host: str) -> _Lane:
        lane = self._lanes.get(host)
        if lane is None:
            if len(self._lanes) >= self._sweep_above:
                self._drop_idle_lanes()
            lane = _Lane(asyncio.Semaphore(self.per_host), delay=self._delays.get(host, 0.0))
            self._lanes[host] = lane
        return lane

    def _drop_idle_lanes(self) -> None:
        """Forget the lanes nobody uses whose spacing has run out for good: a host's next
        request then finds it as a new host, which is what it is to the gate. Sweeps are spaced
        by the lanes added since, so their cost per new host stays constant."""
        now = self._clock()
        idle = [
            host
            for host, lane in self._lanes.items()
            if lane.users == 0 and now - lane.last_start >= max(LONGEST_GAP_S, self._spacing(lane))
        ]
        for host in idle:
            del self._lanes[host]
        self._sweep_above = max(LANES_KEPT, 2 * len(self._lanes))

    @property
    def lanes(self) -> int:
        """How many hosts the gate holds state for now (tests, figures)."""
        return len(self._lanes)

    def set_delay(self, host: str, seconds: float | None) -> None:
        """Honour a robots.txt Crawl-delay: requests to host start at least `seconds` apart."""
        delay = max(0.0, seconds or 0.0)
        if delay:
            self._delays[host] = delay
        else:
            self._delays.pop(host, None)
        self._lane(host).delay = delay

    def in_flight(self, host: str) -> int:
        lane = self._lanes.get(host)
        return 0 if lane is None else self.per_host - lane.sem._value

    async def aclose(self) -> None:
        """The run is over (a gate that holds nothing outside this process has nothing to do)."""

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        lane = self._lane(host)
        lane.users += 1  # counted from here: a lane with a waiter is never dropped
        try:
            async with lane.sem:
                if self._spacing(lane) > 0.0:
                    # One holder at a time waits out the gap, and the next gap is measured from
                    # the moment this request really starts: a late wake-up never shortens the
                    # spacing. The gap is looked at again every PACE_RECHECK_S, so a rate
                    # changed meanwhile (live tuning) takes effect without waiting out the old.
                    async with lane.pace:
                        while (wait := lane.last_start + self._spacing(lane) - self._clock()) > 0.0:
                            await asyncio.sleep(min(wait, PACE_RECHECK_S))
                        lane.last_start = self._clock()
                yield
        finally:
            lane.users -= 1


# ----------------------------------------------------------------------------------------------

DOWN_AFTER: Final = 5  # consecutive connect errors/timeouts
PROBE_BASE: Final = 1.0
PROBE_CAP: Final = 60.0


@dataclass(slots=True)
class _Health:
    failures: int = 0  # consecutive, while up
    down_since: float | None = None
    probes_failed: int = 0
    next_probe_at: float = 0.0
    probing: bool = False  # a probe request is in flight
    probe_started: float = 0.0


class HostHealth:
    """Per-host up/down state. Feed it only connect errors and timeouts as failures, and every
    other outcome — any HTTP response (even a 5xx) or a non-network error such as a protocol
    error or a too-large body — as a success: the host is answering.

    Usage by a dispatcher:
        if not health.may_dispatch(host, now): skip this host for now (show describe())
        … fetch …; health.record_success(host) or health.record_failure(host, now)
    """

    def __init__(
        self,
        *,
        threshold: int = DOWN_AFTER,
        base: float = PROBE_BASE,
        cap: float = PROBE_CAP,
        rng: random.Random | None = None,
        probe_timeout: float = 120.0,
    ) -> None:
        self.threshold = threshold
        # A claimed probe whose outcome is never recorded (the caller forgot, or the task died)
        # must not keep the host down forever: after this long another probe may go.
        self.probe_timeout = probe_timeout
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()
        self._hosts: dict[str, _Health] = {}

    def _backoff(self, n: int) -> float:
        return backoff_delay(n, self.base, self.cap, self._rng)

    def record_failure(self, host: str, now: float) -> bool:
        """Count one connect error/timeout. Returns True when this failure took the host down."""
        h = self._hosts.get(host)
        if h is None:
            h = self._hosts[host] = _Health()
        if h.down_since is None:
            h.failures += 1
            if h.failures < self.threshold:
                return False
            h.down_since = now
            h.probes_failed = 0
            h.probing = False
            h.next_probe_at = now + self._backoff(0)
            return True
        if h.probing:
            # The probe failed: wait longer before the next one.
            h.probing = False
            h.probes_failed += 1
            h.next_probe_at = now + self._backoff(h.probes_failed)
        # Otherwise a request sent before the outage was noticed; it says nothing new.
        return False

    def record_success(self, host: str) -> bool:
        """The host answered. Returns True when this ends an outage."""
        h = self._hosts.pop(host, None)
        return h is not None and h.down_since is not None

    def _probe_in_flight(self, h: _Health, now: float) -> bool:
        return h.probing and now - h.probe_started < self.probe_timeout

    def is_down(self, host: str, now: float) -> bool:
        """True while nothing may be sent to host: it is down and no probe is due yet (or one is
        already in flight)."""
        h = self._hosts.get(host)
        if h is None or h.down_since is None:
            return False
        return self._probe_in_flight(h, now) or now < h.next_probe_at

    def may_dispatch(self, host: str, now: float) -> bool:
        """Like `not is_down`, but claims the probe: once a down host's probe is due, exactly one
        caller gets True until that probe's outcome is recorded."""
        h = self._hosts.get(host)
        if h is None or h.down_since is None:
            return True
        if self._probe_in_flight(h, now) or now < h.next_probe_at:
            return False
        h.probing = True
        h.probe_started = now
        return True

    def probe_abandoned(self, host: str) -> None:
        """The claimed probe was not sent after all (e.g. nothing left to fetch on the host)."""
        h = self._hosts.get(host)
        if h is not None:
            h.probing = False

    def next_probe_at(self, host: str) -> float | None:
        h = self._hosts.get(host)
        if h is None or h.down_since is None:
            return None
        return h.next_probe_at

    def down_hosts(self) -> list[str]:
        return [host for host, h in self._hosts.items() if h.down_since is not None]

    def describe(self, host: str, now: float) -> str:
        h = self._hosts.get(host)
        if h is None or h.down_since is None:
            return "up"
        if h.probing:
            return "host down, probing"
        wait = max(0.0, h.next_probe_at - now)
        return f"host down, next try in {wait:.0f} s"
