"""Deterministic analytics rows for the UI tests: a made-up crawl of known figures, counted by
the real tally and written where the store keeps them."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from tui_scraper.domain import PageResult, PageStatus
from tui_scraper.engine.analytics import tally

HOSTS = ("demo.test", "cdn.demo.test", "[@click=app.quit]x\u202e.test")


def made_up_results(
    start: float, *, pages: int = 400, seconds: int = 300, seed: int = 7
) -> list[PageResult]:
    rng = random.Random(seed)
    results: list[PageResult] = []
    for i in range(pages):
        at = start + seconds * i / pages
        host = HOSTS[0] if i % 5 else HOSTS[1 + (i // 5) % 2]
        url = f"http://{host}/p/{i}"
        depth = min(4, int(rng.expovariate(0.8)))
        roll = rng.random()
        if roll < 0.05:
            results.append(
                PageResult(
                    page_id=i,
                    url=url,
                    status=PageStatus.FAILED,
                    attempts=1,
                    http_status=404,
                    error={"kind": "http", "message": "HTTP 404"},
                    fetched_at=at,
                    depth=depth,
                )
            )
        elif roll < 0.08:
            results.append(
                PageResult(
                    page_id=i,
                    url=url,
                    status=PageStatus.QUEUED,
                    attempts=1,
                    http_status=503,
                    error={"kind": "http", "message": "HTTP 503"},
                    depth=depth,
                )
            )
        elif roll < 0.09:
            results.append(
                PageResult(
                    page_id=i,
                    url=url,
                    status=PageStatus.FAILED,
                    attempts=4,
                    error={"kind": "timeout", "message": "timed out"},
                    fetched_at=at,
                    depth=depth,
                )
            )
        else:
            slow = 1 + 3 * (i > pages * 0.6)  # the site slows down two thirds in
            results.append(
                PageResult(
                    page_id=i,
                    url=url,
                    status=PageStatus.DONE,
                    attempts=1 + (roll > 0.97),
                    http_status=200,
                    fetched_at=at,
                    depth=depth,
                    elapsed_ms=rng.lognormvariate(3.0, 0.6) * slow,
                    size=int(rng.uniform(8_000, 60_000)),
                )
            )
    return results


def seed_analytics(db_path: Path, session_id: str, start: float, **kw: object) -> None:
    """The rows a crawl of `made_up_results` would have left, written straight into the file."""
    rows = tally(made_up_results(start, **kw), now=start)  # type: ignore[arg-type]
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO session_analytics (session_id, bucket, metric, key, n) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, bucket, metric, key) "
                "DO UPDATE SET n = n + excluded.n",
                [(session_id, *row) for row in rows],
            )
    finally:
        conn.close()
