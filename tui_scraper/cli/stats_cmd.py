"""`tui-scraper stats ID [--json] [--compare ID2]`: a session's analytics, for people and scripts.

Read-only: the figures come from the rows every checkpoint added up (service/analytics.py),
never from a scan of the pages. The text fits 80 columns; untrusted text (hosts, error reasons,
the target URL) goes through display_safe.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..formatting import human_bytes
from ..safe_text import display_safe
from .errors import EXIT_OK
from .output import emit

if TYPE_CHECKING:
    from ..domain.analytics import AnalyticsReport
    from ..service import SessionService
    from ..service.analytics import CompareRow, Comparison

__all__ = ["add_stats_command", "stats_command"]

_SPARK = "▁▂▃▄▅▆▇█"
_WIDTH = 60  # the timeline's sparkline: at most this many cells


def add_stats_command(
    sub: Any, sub_kw: dict[str, Any], add_common: Callable[[argparse.ArgumentParser], None]
) -> None:
    stats = sub.add_parser(
        "stats",
        **sub_kw,
        help="a session's analytics: throughput, status codes, latency, hosts",
        description="How a session's crawl went: pages and bytes over time, responses by "
        "status code, latency percentiles, per-host figures, retries, depth and the top error "
        "reasons. --compare ID2 sets a second session's figures beside them with the "
        "differences marked.",
    )
    stats.add_argument("session", help="session id (a unique prefix is enough)")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.add_argument(
        "--compare", metavar="ID2", help="another session to compare with (e.g. the next run)"
    )
    add_common(stats)


async def stats_command(service: SessionService, args: argparse.Namespace) -> int:
    from ..service.analytics import compare
    from .run import check_session_ref

    report = await service.analytics(args.session)
    if args.compare is not None:
        other = await service.analytics(check_session_ref(args.compare))
        comparison = compare(report, other)
        if args.json:
            emit(json.dumps(comparison.to_dict(), indent=2))
        else:
            print_comparison(comparison)
        return EXIT_OK
    if args.json:
        emit(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    return EXIT_OK


def sparkline(values: list[float], width: int = _WIDTH) -> str:
    """`values` in at most `width` cells (neighbours summed), scaled to the largest."""
    if not values:
        return ""
    per = max(1, -(-len(values) // width))
    cells = [sum(values[i : i + per]) for i in range(0, len(values), per)]
    top = max(cells)
    if top <= 0:
        return _SPARK[0] * len(cells)
    return "".join(_SPARK[min(7, int(v / top * 7.999))] for v in cells)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:g} ms"


def _counts(counts: dict[str, int], limit: int = 8) -> str:
    shown = [f"{display_safe(k, 20)}: {n}" for k, n in list(counts.items())[:limit]]
    more = len(counts) - limit
    return "  ".join(shown) + (f"  (+{more} more)" if more > 0 else "") if shown else "–"


def print_report(r: AnalyticsReport) -> None:
    o = r.outcomes
    emit(f"session   {r.session_id[:8]}  {r.status}  {display_safe(r.target_url, 60)}")
    emit(
        f"pages     {r.pages}  (done {o.get('done', 0)}, failed {o.get('failed', 0)}, "
        f"skipped {o.get('skipped', 0)})   {r.pages_per_s:.1f} pages/s over {r.duration_s:g} s"
    )
    emit(f"bytes     {human_bytes(r.bytes)}   retries {r.retries}   redirects {r.redirects}")
    if r.running:
        eta = "–" if r.eta_s is None else f"{r.eta_s:g} s"
        emit(f"queue     {r.queued} waiting   ETA {eta}")
    lat = r.latency_ms
    emit(
        f"latency   p50 {_ms(lat['p50'])}   p95 {_ms(lat['p95'])}   p99 {_ms(lat['p99'])}"
        f"   ({r.latency_count} pages)"
    )
    c = r.status_classes
    emit(
        f"classes   2xx {c.get('2xx', 0)}   3xx {c.get('3xx', 0)}   4xx {c.get('4xx', 0)}   "
        f"5xx {c.get('5xx', 0)}   no response {c.get('errors', 0)}"
    )
    emit(f"codes     {_counts(r.status_codes)}")
    if r.errors:
        emit(f"errors    {_counts(r.errors)}")
    emit(f"depth     {_counts(r.depth)}")
    emit(f"retried   {_counts({f'{k}x': n for k, n in r.retry_histogram.items()})}")
    if r.timeline:
        step = r.timeline[1].t - r.timeline[0].t if len(r.timeline) > 1 else 0
        emit(
            f"pages/interval  {sparkline([p.pages for p in r.timeline])}"
            + (f"  ({len(r.timeline)} intervals)" if step else "")
        )
    if r.top_errors:
        emit("top errors")
        for reason, n in r.top_errors:
            emit(f"  {n:>7}  {display_safe(reason, 68)}")
    if r.hosts:
        emit(f"  {'PAGES':>7}  {'ERRORS':>6}  {'BYTES':>9}  {'QUEUED':>7}  HOST")
        for h in r.hosts[:10]:
            state = f"  ({display_safe(h.state, 20)})" if h.state else ""
            emit(
                f"  {h.pages:>7}  {h.errors:>6}  {human_bytes(h.bytes):>9}  {h.queued:>7}  "
                f"{display_safe(h.host, 40)}{state}"
            )
        if len(r.hosts) > 10:
            emit(f"  … and {len(r.hosts) - 10} more hosts")


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "B":
        return human_bytes(value)
    text = f"{value:g}"
    return f"{text} {unit}".strip() if unit in ("s", "ms") else text


def difference(row: CompareRow) -> str:
    """ "+12 (+10%) better", "=" when equal."""
    if not row.differs:
        return "="
    delta = row.delta
    if delta is None:
        return "≠"
    sign = "+" if delta > 0 else "-"
    magnitude = human_bytes(abs(delta)) if row.unit == "B" else f"{abs(delta):g}"
    ratio = row.ratio
    pct = "" if ratio is None else f" ({ratio * 100:+.0f}%)"
    mark = {True: " better", False: " worse", None: ""}[row.better]
    return f"{sign}{magnitude}{pct}{mark}"


def print_comparison(cmp: Comparison) -> None:
    a, b = cmp.a, cmp.b
    emit(f"A  {a.session_id[:8]}  {a.status}  {display_safe(a.target_url, 60)}")
    emit(f"B  {b.session_id[:8]}  {b.status}  {display_safe(b.target_url, 60)}")
    emit(f"   {'':14}  {'A':>12}  {'B':>12}  B - A")
    for row in cmp.rows:
        flag = "*" if row.differs else " "
        emit(
            f"{flag}  {row.label:14}  {_figure(row.a, row.unit):>12}  "
            f"{_figure(row.b, row.unit):>12}  {difference(row)}"
        )
