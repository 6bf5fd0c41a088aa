"""The crawl's live figures: page counters kept between batch commits, published as `Progress`.

The counters start from the store's `page_counts` and move with each result, so the figures
observers sample stay exact across stops; the crawler reloads them from the store where they
may have drifted (a redirect target that did not fit under max-pages).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ..domain.progress import Progress
from ..domain.records import PageResult
from ..domain.status import PageStatus
from .politeness import HostHealth
from .stats import CrawlStats, RecentPage, average_rate

__all__ = ["LiveFigures"]


class LiveFigures:
    def __init__(
        self, stats: CrawlStats, *, previous_elapsed_s: float, clock: Callable[[], float]
    ) -> None:
        self.stats = stats
        # Only the count fields are kept here; the rest is filled in by publish().
        self.counts = Progress()
        self._previous_elapsed_s = previous_elapsed_s
        self._started_mono = time.monotonic()
        # The elapsed time of the first figures published after the run stopped: every later
        # publish (the final counts, the summary's duration) keeps it, so the stored progress and
        # the summary agree on the rate even when the run lasted a fraction of a second.
        self._stopped_elapsed: float | None = None
        self._clock = clock

    def reload(self, counts: dict[PageStatus, int]) -> None:
        """Start again from what the store counts (bytes are not stored per status: kept)."""
        self.counts = Progress(
            done=counts.get(PageStatus.DONE, 0),
            failed=counts.get(PageStatus.FAILED, 0),
            skipped=counts.get(PageStatus.SKIPPED, 0),
            queued=counts.get(PageStatus.QUEUED, 0),
            fetching=counts.get(PageStatus.FETCHING, 0),
            bytes=self.counts.bytes or self.stats.progress.bytes,
        )

    def record(self, result: PageResult, *, claimed: bool = True) -> None:
        """One finished page (`claimed`: a row of the frontier, not a redirect's target)."""
        counts = self.counts
        if claimed:
            counts.fetching = max(0, counts.fetching - 1)
        status = result.status
        if status is PageStatus.DONE:
            counts.done += 1
            counts.bytes += result.size or 0
        elif status is PageStatus.FAILED:
            counts.failed += 1
        elif status is PageStatus.SKIPPED:
            counts.skipped += 1
        else:
            counts.queued += 1
        shown = "retry" if status is PageStatus.QUEUED else status.value
        self.stats.record_page(
            RecentPage(
                url=result.url,
                status=shown,
                http_status=result.http_status,
                title=result.title,
                size=result.size,
                elapsed_ms=result.elapsed_ms,
                at=result.fetched_at or self._clock(),
            )
        )
        if result.error and status is not PageStatus.DONE:
            self.stats.record_error(f"{result.url}: {result.error.get('message', '')}")

    def publish(self, in_flight: int, health: HostHealth | None) -> Progress:
        """The figures observers see. One source of truth for each:
        - `fetching` is requests in flight (at most the concurrency); rows claimed from the
          frontier but not yet started are waiting, so they count as `queued`;
        - `pages_per_s` is the pages finished over the last few seconds divided by the time
          those seconds actually cover; once the crawl stops it is the session average, the
          same figure the summary stores (`avg_pages_per_s`, always the session average).
        """
        c = self.counts
        stats = self.stats
        elapsed = round(self._previous_elapsed_s + (time.monotonic() - self._started_mono), 1)
        running = stats.running
        if running:
            self._stopped_elapsed = None
        elif self._stopped_elapsed is None:
            self._stopped_elapsed = elapsed
        else:
            elapsed = self._stopped_elapsed
        in_flight = min(in_flight, c.fetching)
        average = average_rate(c.done, c.failed, elapsed)
        hosts: dict[str, str] = {}
        if health is not None and running:
            now = self._clock()
            hosts = {host: health.describe(host, now) for host in health.down_hosts()}
        progress = replace(
            c,
            queued=c.queued + (c.fetching - in_flight),
            fetching=in_flight,
            pages_per_s=round(stats.recent_rate(), 1) if running else average,
            avg_pages_per_s=average,
            elapsed_s=elapsed,
            last_url=stats.progress.last_url,
            host_states=hosts,
            waiting=stats.progress.waiting,
        )
        stats.update_progress(progress)
        return progress
