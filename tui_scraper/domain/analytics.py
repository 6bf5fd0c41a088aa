"""A session's analytics: the counters a crawl keeps per interval, and the report built from them.

The coordinator counts each batch of results as it commits them (`engine/analytics.py`), into
rows of `(bucket, metric, key, n)`: `bucket` is the start (seconds since the epoch) of the
INTERVAL_S interval the result belongs to, or TOTALS for figures kept for the whole session only
(per host, per depth, error reasons, the retry histogram). The store adds the rows up in the
same transaction as the results, so the figures are exactly those of the committed results.

Latency goes into fixed log-scale buckets (a quarter of an octave each: a percentile read from
them is within 19 % of the true one), so intervals, runs and workers add up by plain addition.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INTERVAL_S",
    "TOTALS",
    "AnalyticsReport",
    "AnalyticsRow",
    "IntervalPoint",
    "build_report",
    "latency_bound_ms",
    "latency_bucket",
    "percentile_ms",
]

INTERVAL_S = 5
TOTALS = -1

# Per interval.
PAGES = "outcome"  # finished pages by outcome: done / failed / skipped
BYTES = "bytes"
RESPONSES = "status"  # every response received, by HTTP status code (retried attempts too)
ERRORS = "error"  # attempts that got no response, by error kind (timeout, connect, ...)
LATENCY = "latency"  # done pages by latency bucket
RETRIES = "retries"  # attempts put back to be tried again
REDIRECTS = "redirects"
# Whole session (bucket TOTALS).
DEPTH = "depth"
HOST_PAGES = "host_pages"
HOST_ERRORS = "host_errors"
HOST_BYTES = "host_bytes"
REASONS = "reason"
ATTEMPTS = "attempts"  # finished pages by the retries they took

AnalyticsRow = tuple[int, str, str, int]

_STEPS_PER_OCTAVE = 4
_MAX_BUCKET = 120  # 2**30 ms: anything slower is counted in the last bucket


def latency_bucket(ms: float) -> int:
    """The bucket of a latency: bucket i holds (bound(i-1), bound(i)] ms, bucket 0 up to 1 ms."""
    if ms <= 1.0:
        return 0
    return min(_MAX_BUCKET, math.ceil(math.log2(ms) * _STEPS_PER_OCTAVE))


def latency_bound_ms(bucket: int) -> float:
    """The upper bound of a latency bucket, in ms."""
    return float(2.0 ** (bucket / _STEPS_PER_OCTAVE))


def percentile_ms(histogram: dict[int, int], fraction: float) -> float | None:
    """The `fraction` percentile (0.5, 0.95, ...) from bucket counts: the bound of the bucket that
    holds it. None when nothing was counted."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(latency_bound_ms(bucket), 1)
    return round(latency_bound_ms(max(histogram)), 1)  # pragma: no cover - rank <= total


def status_class(code: str) -> str:
    return f"{code[0]}xx" if len(code) == 3 and code.isdigit() else "other"


@dataclass(frozen=True)
class IntervalPoint:
    """One interval of the crawl: what finished in it."""

    t: int  # seconds since the first interval's start
    at: int  # the interval's start, seconds since the epoch
    pages: int
    bytes: int
    failed: int
    retries: int
    errors: int  # responses >= 400 and attempts without a response
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def pages_per_s(self) -> float:
        return self.pages / INTERVAL_S

    @property
    def bytes_per_s(self) -> float:
        return self.bytes / INTERVAL_S

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "at": self.at,
            "pages": self.pages,
            "bytes": self.bytes,
            "pages_per_s": round(self.pages_per_s, 2),
            "bytes_per_s": round(self.bytes_per_s, 1),
            "failed": self.failed,
            "retries": self.retries,
            "errors": self.errors,
            "latency_ms": {"p50": self.p50_ms, "p95": self.p95_ms, "p99": self.p99_ms},
        }


@dataclass(frozen=True)
class HostFigures:
    host: str
    pages: int
    errors: int
    bytes: int
    state: str = ""  # live only: "down, retry in 12 s" and the like
    queued: int = 0  # pages waiting (queued or being fetched) when the report was made

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pages": self.pages,
            "errors": self.errors,
            "bytes": self.bytes,
            "state": self.state,
            "queued": self.queued,
        }


@dataclass(frozen=True)
class AnalyticsReport:
    """Everything `stats` prints and the Analytics tab draws, for one session."""

    session_id: str
    target_url: str
    status: str
    duration_s: float
    pages: int
    outcomes: dict[str, int]
    bytes: int
    retries: int
    redirects: int
    status_codes: dict[str, int]
    status_classes: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, float | None]
    latency_count: int
    hosts: list[HostFigures]
    depth: dict[str, int]
    retry_histogram: dict[str, int]
    top_errors: list[tuple[str, int]]
    timeline: list[IntervalPoint]
    queued: int = 0
    eta_s: float | None = None  # while running: queued pages at the recent rate
    running: bool = False

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.duration_s if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.session_id,
            "target_url": self.target_url,
            "status": self.status,
            "running": self.running,
            "duration_s": self.duration_s,
            "pages": self.pages,
            "outcomes": self.outcomes,
            "pages_per_s": round(self.pages_per_s, 2),
            "bytes": self.bytes,
            "retries": self.retries,
            "redirects": self.redirects,
            "status_codes": self.status_codes,
            "status_classes": self.status_classes,
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            "latency_count": self.latency_count,
            "hosts": [h.to_dict() for h in self.hosts],
            "depth": self.depth,
            "retry_histogram": self.retry_histogram,
            "top_errors": [{"reason": r, "count": n} for r, n in self.top_errors],
            "timeline": [p.to_dict() for p in self.timeline],
            "queued": self.queued,
            "eta_s": self.eta_s,
        }


def _int_keys_sorted(counts: dict[str, int]) -> dict[str, int]:
    return dict(
        sorted(
            counts.items(),
            key=lambda kv: (not kv[0].isdigit(), int(kv[0]) if kv[0].isdigit() else 0, kv[0]),
        )
    )


def build_report(
    rows: Iterable[AnalyticsRow],
    *,
    session_id: str,
    target_url: str,
    status: str,
    duration_s: float,
    queued: int = 0,
    running: bool = False,
    recent_pages_per_s: float = 0.0,
    host_states: dict[str, str] | None = None,
    host_queued: dict[str, int] | None = None,
    top: int = 10,
) -> AnalyticsReport:
    """The report from the stored rows (any order, any number of runs and workers)."""
    per: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket, metric, key, n in rows:
        target = totals if bucket == TOTALS else per[bucket]
        by_key = target[metric]
        by_key[key] = by_key.get(key, 0) + n

    def summed(metric: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for figures in per.values():
            for key, n in figures.get(metric, {}).items():
                out[key] = out.get(key, 0) + n
        return out

    outcomes = summed(PAGES)
    codes = _int_keys_sorted(summed(RESPONSES))
    errors = summed(ERRORS)
    redirects = sum(summed(REDIRECTS).values())
    classes: dict[str, int] = {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
    for code, n in codes.items():
        cls = status_class(code)
        classes[cls] = classes.get(cls, 0) + n
    classes["3xx"] += redirects
    classes["errors"] = sum(errors.values())
    latency = {int(k): n for k, n in summed(LATENCY).items()}
    timeline: list[IntervalPoint] = []
    first = min(per) if per else 0
    for bucket in sorted(per):
        figures = per[bucket]
        hist = {int(k): n for k, n in figures.get(LATENCY, {}).items()}
        responses = figures.get(RESPONSES, {})
        bad = sum(n for code, n in responses.items() if code >= "400" and len(code) == 3)
        timeline.append(
            IntervalPoint(
                t=bucket - first,
                at=bucket,
                pages=sum(figures.get(PAGES, {}).values()),
                bytes=sum(figures.get(BYTES, {}).values()),
                failed=figures.get(PAGES, {}).get("failed", 0),
                retries=sum(figures.get(RETRIES, {}).values()),
                errors=bad + sum(figures.get(ERRORS, {}).values()),
                p50_ms=percentile_ms(hist, 0.50),
                p95_ms=percentile_ms(hist, 0.95),
                p99_ms=percentile_ms(hist, 0.99),
            )
        )
    host_pages = totals.get(HOST_PAGES, {})
    host_errors = totals.get(HOST_ERRORS, {})
    host_bytes = totals.get(HOST_BYTES, {})
    states = host_states or {}
    waiting = host_queued or {}
    hosts = [
        HostFigures(
            host=host,
            pages=host_pages.get(host, 0),
            errors=host_errors.get(host, 0),
            bytes=host_bytes.get(host, 0),
            state=states.get(host, ""),
            queued=waiting.get(host, 0),
        )
        for host in set(host_pages) | set(host_errors) | set(states) | set(waiting)
    ]
    hosts.sort(key=lambda h: (-h.pages, -h.errors, -h.queued, h.host))
    reasons = sorted(totals.get(REASONS, {}).items(), key=lambda kv: (-kv[1], kv[0]))
    pages = sum(outcomes.values())
    eta: float | None = None
    if running and queued and recent_pages_per_s > 0:
        eta = round(queued / recent_pages_per_s, 1)
    return AnalyticsReport(
        session_id=session_id,
        target_url=target_url,
        status=status,
        duration_s=round(duration_s, 1),
        pages=pages,
        outcomes=dict(sorted(outcomes.items())),
        bytes=sum(summed(BYTES).values()),
        retries=sum(summed(RETRIES).values()),
        redirects=redirects,
        status_codes=codes,
        status_classes=classes,
        errors=dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        latency_ms={
            "p50": percentile_ms(latency, 0.50),
            "p95": percentile_ms(latency, 0.95),
            "p99": percentile_ms(latency, 0.99),
        },
        latency_count=sum(latency.values()),
        hosts=hosts,
        depth=_int_keys_sorted(totals.get(DEPTH, {})),
        retry_histogram=_int_keys_sorted(totals.get(ATTEMPTS, {})),
        top_errors=reasons[:top],
        timeline=timeline,
        queued=queued,
        eta_s=eta,
        running=running,
    )
