"""The figures stored in `summary_results` when a session completes, derived from the store.

Derived from every stored page (not from this run's memory), so a crawl resumed five times
reports the same figures as one that ran straight through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from ..domain.records import PageRecord
from ..domain.status import PageStatus
from .stats import average_rate


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return round(sorted_values[index], 1)


async def summarise(pages: AsyncIterator[PageRecord], *, duration_s: float) -> dict[str, Any]:
    status_codes: Counter[str] = Counter()
    content_types: Counter[str] = Counter()
    error_kinds: Counter[str] = Counter()
    page_states: Counter[str] = Counter()
    latencies: list[float] = []
    total_bytes = 0
    async for page in pages:
        page_states[page.status.value] += 1
        if page.http_status is not None:
            status_codes[str(page.http_status)] += 1
        if page.content_type:
            content_types[page.content_type] += 1
        if page.error and page.status in (PageStatus.FAILED, PageStatus.SKIPPED):
            error_kinds[str(page.error.get("kind", "unknown"))] += 1
        if page.elapsed_ms is not None:
            latencies.append(page.elapsed_ms)
        total_bytes += page.size or 0
    latencies.sort()
    fetched = page_states[PageStatus.DONE.value] + page_states[PageStatus.FAILED.value]
    return {
        "pages": dict(page_states),
        "status_codes": dict(status_codes.most_common()),
        "content_types": dict(content_types.most_common()),
        "error_kinds": dict(error_kinds.most_common()),
        "latency_ms": {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)},
        "bytes": total_bytes,
        "duration_s": round(duration_s, 2),
        # The same formula the live figure ends on (stats.average_rate).
        "pages_per_s": average_rate(fetched, 0, duration_s) if duration_s > 0 else None,
    }
