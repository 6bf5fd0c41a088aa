"""Count a batch of results into analytics rows (pure; the store calls it inside a checkpoint).

The store calls `tally` with the results its checkpoint actually writes, in the same
transaction, so the figures are those of the committed results and nothing else: after a kill
the results lost with their batch are lost from the figures too, and the page fetched again is
counted once. A replayed checkpoint (PostgreSQL tries one again after a lost connection) passes
only what it wrote, nothing the second time.

The cost is a few dict increments per result; `TUI_SCRAPER_ANALYTICS=0` turns the counting off
(the benchmark's comparison, nothing else).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..domain.analytics import (
    ATTEMPTS,
    BYTES,
    DEPTH,
    ERRORS,
    HOST_BYTES,
    HOST_ERRORS,
    HOST_PAGES,
    INTERVAL_S,
    LATENCY,
    PAGES,
    REASONS,
    REDIRECTS,
    RESPONSES,
    RETRIES,
    TOTALS,
    AnalyticsRow,
    latency_bucket,
)
from ..domain.records import PageResult
from ..domain.status import PageStatus

__all__ = ["analytics_enabled", "tally"]

_QUEUED = PageStatus.QUEUED
_DONE = PageStatus.DONE
_FAILED = PageStatus.FAILED


def analytics_enabled() -> bool:
    return os.environ.get("TUI_SCRAPER_ANALYTICS", "1") != "0"


def _host(url: str) -> str:
    # "scheme://host[:port]/path": the authority, with no parsing beyond a split.
    parts = url.split("/", 3)
    return parts[2] if len(parts) > 2 else url


def _reason(error: dict[str, object], code: int | None) -> str:
    if code is not None:
        return f"HTTP {code}"
    return str(error.get("kind") or "error")


def tally(results: Sequence[PageResult], now: float) -> list[AnalyticsRow]:
    """The rows to add for `results`: per interval of their fetch time (`now` for a result
    without one) and for the whole session."""
    counts: dict[tuple[int, str, str], int] = {}

    def add(bucket: int, metric: str, key: str, n: int = 1) -> None:
        k = (bucket, metric, key)
        counts[k] = counts.get(k, 0) + n

    for r in results:
        status = r.status
        error = r.error
        if status is _QUEUED and error is None:
            continue  # put back untouched (host down, stopping): nothing happened to it
        at = r.fetched_at if r.fetched_at is not None else now
        bucket = int(at // INTERVAL_S) * INTERVAL_S
        code = r.http_status
        host = _host(r.url)
        if code is not None:
            add(bucket, RESPONSES, str(code))
        kind = "" if error is None else str(error.get("kind") or "error")
        if status is _QUEUED:
            add(bucket, RETRIES, "")
            if code is None:
                add(bucket, ERRORS, kind)
            assert error is not None
            add(TOTALS, REASONS, _reason(error, code))
            add(TOTALS, HOST_ERRORS, host)
            continue
        add(bucket, PAGES, status.value)
        add(TOTALS, HOST_PAGES, host)
        add(TOTALS, DEPTH, str(r.depth))
        add(TOTALS, ATTEMPTS, str(max(0, r.attempts - 1)))
        if kind == "redirect":
            add(bucket, REDIRECTS, "")
        if status is _DONE:
            size = r.size or 0
            if size:
                add(bucket, BYTES, "", size)
                add(TOTALS, HOST_BYTES, host, size)
            if r.elapsed_ms is not None:
                add(bucket, LATENCY, str(latency_bucket(r.elapsed_ms)))
        elif status is _FAILED:  # a skipped page is our choice (robots, scope, ...), not an error
            if code is None:
                add(bucket, ERRORS, kind)
            if error is not None:
                add(TOTALS, REASONS, _reason(error, code))
            add(TOTALS, HOST_ERRORS, host)
    return [(b, m, k, n) for (b, m, k), n in counts.items()]
