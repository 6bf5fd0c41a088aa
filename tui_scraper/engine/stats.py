"""The live aggregator the crawler feeds and observers sample.

The crawler calls the `record_*` methods (cheap, synchronous, no I/O); the UI and the headless
progress line call `snapshot()` a few times a second. Nothing here sends a message per page.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain.progress import Progress, completed_fraction
from ..domain.status import Status

RECENT_PAGES = 200
RECENT_ERRORS = 200
RATE_WINDOW_S = 60
# The live pages/s is measured over this many seconds (or the part of them the run covers).
RECENT_RATE_S = 10.0
_RECENT_TIMES = 100_000  # bounds memory at very high rates; 10 s at 10 k pages/s


def average_rate(done: int, failed: int, elapsed_s: float) -> float:
    """The session average the live figure ends on and the summary stores: one formula."""
    return round((done + failed) / elapsed_s, 1) if elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class RecentPage:
    url: str
    status: str  # page status: done / failed / skipped / retry
    http_status: int | None
    title: str | None
    size: int | None
    elapsed_ms: float | None
    at: float


@dataclass(frozen=True)
class StatsSnapshot:
    session_id: str
    target_url: str
    state: Status
    progress: Progress
    max_pages: int | None
    recent: list[RecentPage]
    errors: list[str]
    # pages finished in each of the last RATE_WINDOW_S whole seconds, oldest first.
    rate_history: list[int]
    seq: int = 0  # grows with every change; lets a sampler skip redraws when nothing moved

    @property
    def fraction(self) -> float | None:
        return completed_fraction(self.progress, self.max_pages)


@dataclass
class CrawlStats:
    session_id: str
    target_url: str
    max_pages: int | None = None
    state: Status = Status.PENDING
    progress: Progress = field(default_factory=Progress)
    clock: Callable[[], float] = time.monotonic
    _recent: deque[RecentPage] = field(default_factory=lambda: deque(maxlen=RECENT_PAGES))
    _errors: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_ERRORS))
    _buckets: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW_S))
    _times: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT_TIMES))
    _run_started: float | None = None
    _seq: int = 0

    def start_run(self) -> None:
        """The crawl runs from now: the live rate covers only time since this moment."""
        self._run_started = self.clock()
        self._times.clear()
        self._seq += 1

    def end_run(self) -> None:
        """Stopped (paused, interrupted, finished): there is no live rate any more."""
        self._run_started = None
        self._times.clear()
        self._seq += 1

    @property
    def running(self) -> bool:
        return self._run_started is not None

    def recent_rate(self) -> float:
        """Pages finished in the last RECENT_RATE_S seconds over the time those seconds cover.

        A 3 s old run divides by 3, not by 10: a short crawl shows its true rate.
        """
        if self._run_started is None:
            return 0.0
        now = self.clock()
        covered = min(RECENT_RATE_S, now - self._run_started)
        if covered <= 0:
            return 0.0
        times = self._times
        while times and times[0] <= now - covered:
            times.popleft()
        return len(times) / covered

    def record_page(self, page: RecentPage) -> None:
        self._recent.append(page)
        self._count_rate()
        if page.status != "retry":  # pages/s counts pages finished, not attempts put back
            self._times.append(self.clock())
        self.progress.last_url = page.url
        self._seq += 1

    def record_error(self, text: str) -> None:
        self._errors.append(text)
        self._seq += 1

    def set_state(self, state: Status) -> None:
        self.state = state
        self._seq += 1

    def update_progress(self, progress: Progress) -> None:
        self.progress = progress
        self._seq += 1

    def _count_rate(self) -> None:
        second = int(self.clock())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1] = (second, self._buckets[-1][1] + 1)
        else:
            self._buckets.append((second, 1))

    def rate_history(self) -> list[int]:
        now = int(self.clock())
        counts = dict(self._buckets)
        return [counts.get(s, 0) for s in range(now - RATE_WINDOW_S + 1, now + 1)]

    def snapshot(self) -> StatsSnapshot:
        p = self.progress
        return StatsSnapshot(
            session_id=self.session_id,
            target_url=self.target_url,
            state=self.state,
            progress=Progress.from_dict(p.to_dict()),
            max_pages=self.max_pages,
            recent=list(self._recent),
            errors=list(self._errors),
            rate_history=self.rate_history(),
            seq=self._seq,
        )
