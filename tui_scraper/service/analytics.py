"""A session's analytics for the front ends: the report from the stored rows, and two sessions'
figures side by side.

The rows are added up by the store in every checkpoint (domain/analytics.py); a report reads
them once, so it costs the same for a finished 1 M-page session as for a 100-page one, and a
running session's figures are as fresh as its last checkpoint (every ~0.5 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..domain.analytics import AnalyticsReport, AnalyticsRow, build_report
from ..domain.records import SessionRecord
from ..domain.status import Status

__all__ = [
    "HOST_QUEUE_LIMIT",
    "HOST_QUEUE_REFRESH_S",
    "AnalyticsRows",
    "CompareRow",
    "Comparison",
    "HostQueueCache",
    "compare",
    "report_for",
]

# The per-host queue is a scan of the session's waiting pages (not a figure the checkpoints
# keep), so a running session's is read again at most this often, and for this many hosts.
HOST_QUEUE_REFRESH_S = 10.0
HOST_QUEUE_LIMIT = 50


class AnalyticsRows(Protocol):
    async def analytics_rows(self, session_id: str) -> list[AnalyticsRow]: ...

    async def queued_by_host(self, session_id: str, limit: int = 50) -> dict[str, int]: ...


@dataclass
class HostQueueCache:
    """The last per-host queue read for each session, reused while a running session's is
    younger than `max_age_s` (a live tab reloads every second; the scan need not)."""

    max_age_s: float = HOST_QUEUE_REFRESH_S
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, tuple[float, dict[str, int]]] = field(default_factory=dict)

    async def get(self, store: AnalyticsRows, session_id: str, *, running: bool) -> dict[str, int]:
        now = self.clock()
        entry = self._entries.get(session_id)
        if running and entry is not None and now - entry[0] < self.max_age_s:
            return entry[1]
        queued = await store.queued_by_host(session_id, HOST_QUEUE_LIMIT)
        if running:
            self._entries[session_id] = (now, queued)
        else:  # a stopped session's queue is read afresh: it is asked for once, not live
            self._entries.pop(session_id, None)
        return queued


async def report_for(
    store: AnalyticsRows, session: SessionRecord, host_queue: HostQueueCache | None = None
) -> AnalyticsReport:
    """The report of `session` (its stored progress gives the duration, the queue and, while it
    runs, the recent rate the ETA is reckoned at and the hosts' back-off; the store's waiting
    pages give the queue per host, through `host_queue` when the caller reloads often)."""
    rows = await store.analytics_rows(session.id)
    p = session.progress
    running = session.status is Status.RUNNING
    cache = host_queue if host_queue is not None else HostQueueCache()
    host_queued = await cache.get(store, session.id, running=running)
    return build_report(
        rows,
        session_id=session.id,
        target_url=session.target_url,
        status=session.status.value,
        duration_s=p.elapsed_s,
        queued=p.queued + p.fetching,
        running=running,
        recent_pages_per_s=p.pages_per_s,
        host_states=dict(p.host_states) if running else None,
        host_queued=host_queued,
    )


@dataclass(frozen=True)
class CompareRow:
    label: str
    a: float | None
    b: float | None
    unit: str = ""  # "", "s", "ms", "B", "/s"
    lower_is_better: bool = False

    @property
    def delta(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def ratio(self) -> float | None:
        """b over a - 1 (+0.25: b is 25 % higher), None when a is 0 or missing."""
        if self.a is None or self.b is None or self.a == 0:
            return None
        return self.b / self.a - 1.0

    @property
    def differs(self) -> bool:
        return self.a != self.b

    @property
    def better(self) -> bool | None:
        """True when b is better than a, False when worse, None when equal or not comparable."""
        delta = self.delta
        if delta is None or delta == 0:
            return None
        return (delta < 0) if self.lower_is_better else (delta > 0)

    def to_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "metric": self.label,
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "change": None if ratio is None else round(ratio, 4),
            "differs": self.differs,
            "better": self.better,
        }


@dataclass(frozen=True)
class Comparison:
    a: AnalyticsReport
    b: AnalyticsReport
    rows: list[CompareRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "diff": [row.to_dict() for row in self.rows],
        }


_Figure = Callable[[AnalyticsReport], float | None]


def _rows() -> list[tuple[str, _Figure, str, bool]]:
    return [
        ("pages", lambda r: r.pages, "", False),
        ("done", lambda r: r.outcomes.get("done", 0), "", False),
        ("failed", lambda r: r.outcomes.get("failed", 0), "", True),
        ("skipped", lambda r: r.outcomes.get("skipped", 0), "", False),
        ("duration", lambda r: r.duration_s, "s", True),
        ("pages/s", lambda r: round(r.pages_per_s, 2), "/s", False),
        ("bytes", lambda r: r.bytes, "B", False),
        ("retries", lambda r: r.retries, "", True),
        ("redirects", lambda r: r.redirects, "", False),
        ("2xx", lambda r: r.status_classes.get("2xx", 0), "", False),
        ("3xx", lambda r: r.status_classes.get("3xx", 0), "", False),
        ("4xx", lambda r: r.status_classes.get("4xx", 0), "", True),
        ("5xx", lambda r: r.status_classes.get("5xx", 0), "", True),
        ("no response", lambda r: r.status_classes.get("errors", 0), "", True),
        ("latency p50", lambda r: r.latency_ms.get("p50"), "ms", True),
        ("latency p95", lambda r: r.latency_ms.get("p95"), "ms", True),
        ("latency p99", lambda r: r.latency_ms.get("p99"), "ms", True),
        ("hosts", lambda r: len(r.hosts), "", False),
        ("max depth", lambda r: max((int(d) for d in r.depth), default=None), "", False),
    ]


def compare(a: AnalyticsReport, b: AnalyticsReport) -> Comparison:
    """`b` against `a` (a: the earlier or the reference run), figure by figure."""
    rows = [
        CompareRow(label, figure(a), figure(b), unit, lower)
        for label, figure, unit, lower in _rows()
    ]
    return Comparison(a=a, b=b, rows=rows)
