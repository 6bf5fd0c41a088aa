"""The pure parts: counting a batch of results, and the report built from the rows."""

from __future__ import annotations

from tui_scraper.domain import PageResult, PageStatus
from tui_scraper.domain.analytics import (
    INTERVAL_S,
    build_report,
    latency_bound_ms,
    latency_bucket,
    percentile_ms,
)
from tui_scraper.engine.analytics import tally

URL = "http://127.0.0.1:8000/p"


def _done(n: int, at: float, ms: float, size: int = 100, depth: int = 1) -> PageResult:
    return PageResult(
        page_id=n,
        url=f"{URL}{n}",
        status=PageStatus.DONE,
        attempts=1,
        http_status=200,
        fetched_at=at,
        elapsed_ms=ms,
        size=size,
        depth=depth,
    )


def test_latency_buckets_are_fixed_log_scale_and_percentiles_fall_in_the_right_one() -> None:
    for ms in (0.2, 1.0, 1.5, 9.9, 250.0, 3000.0):
        bucket = latency_bucket(ms)
        assert ms <= latency_bound_ms(bucket) < max(ms, 1.0) * 1.19 + 1e-9
    hist = {latency_bucket(10.0): 98, latency_bucket(500.0): 2}
    assert percentile_ms(hist, 0.5) == round(latency_bound_ms(latency_bucket(10.0)), 1)
    assert percentile_ms(hist, 0.99) == round(latency_bound_ms(latency_bucket(500.0)), 1)
    assert percentile_ms({}, 0.5) is None


def test_a_batch_counts_every_response_once_and_pages_by_outcome() -> None:
    t0 = 1_000_000.0
    results = [
        _done(1, t0, 10.0),
        _done(2, t0 + 1, 12.0, depth=2),
        PageResult(
            page_id=3,
            url=f"{URL}3",
            status=PageStatus.QUEUED,
            attempts=1,
            http_status=500,
            error={"kind": "http", "message": "HTTP 500"},
        ),
        PageResult(
            page_id=4,
            url=f"{URL}4",
            status=PageStatus.FAILED,
            attempts=1,
            http_status=404,
            error={"kind": "http", "message": "HTTP 404"},
            fetched_at=t0 + INTERVAL_S,
        ),
        PageResult(
            page_id=5,
            url=f"{URL}5",
            status=PageStatus.FAILED,
            attempts=4,
            error={"kind": "timeout", "message": "read timed out"},
            fetched_at=t0 + INTERVAL_S,
        ),
        # Put back untouched (its host is down): nothing happened to it, nothing is counted.
        PageResult(page_id=6, url=f"{URL}6", status=PageStatus.QUEUED, attempts=0),
    ]
    report = build_report(
        tally(results, now=t0),
        session_id="s",
        target_url=URL,
        status="completed",
        duration_s=10.0,
    )
    assert report.status_codes == {"200": 2, "404": 1, "500": 1}
    assert report.status_classes == {"2xx": 2, "3xx": 0, "4xx": 1, "5xx": 1, "errors": 1}
    assert report.outcomes == {"done": 2, "failed": 2}
    assert report.pages == 4 and report.retries == 1 and report.bytes == 200
    assert report.errors == {"timeout": 1}
    assert dict(report.top_errors) == {"HTTP 404": 1, "HTTP 500": 1, "timeout": 1}
    assert report.retry_histogram == {"0": 3, "3": 1}
    assert report.depth == {"0": 2, "1": 1, "2": 1}
    [host] = report.hosts
    assert (host.host, host.pages, host.errors, host.bytes) == ("127.0.0.1:8000", 4, 3, 200)
    assert [p.pages for p in report.timeline] == [2, 2]
    assert report.timeline[1].t == INTERVAL_S and report.timeline[1].errors == 2
    assert report.latency_count == 2 and report.latency_ms["p50"] is not None
    as_json = report.to_dict()
    assert {"status_codes", "latency_ms", "hosts", "timeline", "retries", "bytes"} <= set(as_json)


def test_rows_of_many_checkpoints_add_up_to_the_rows_of_one() -> None:
    results = [_done(i, 1_000_000.0 + i * 0.7, 5.0 + i) for i in range(40)]
    whole = build_report(
        tally(results, 0), session_id="s", target_url=URL, status="x", duration_s=1
    )
    parts = [row for i in range(0, 40, 7) for row in tally(results[i : i + 7], 0)]
    split = build_report(parts, session_id="s", target_url=URL, status="x", duration_s=1)
    assert split == whole
