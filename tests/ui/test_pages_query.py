"""The Pages tab's store query on a real SQLite file: bounded pages and a literal search."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tui_scraper.domain import CrawlConfig, PageStatus
from tui_scraper.runtime.manager import SessionManager

ROWS = 200_000


def _seed(db: Path, session_id: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO pages (session_id, url, depth, status, title) VALUES (?, ?, 1, ?, ?)",
            (
                (
                    session_id,
                    f"http://127.0.0.1:9/p/{i}",
                    "done" if i % 3 else "failed",
                    "50% _off_ Sale" if i == 150_000 else f"Page {i}",
                )
                for i in range(1, ROWS + 1)
            ),
        )


async def test_keyset_pages_and_search_stay_bounded(tmp_path: Path) -> None:
    manager = await SessionManager.open(tmp_path, who="test")
    try:
        record = await manager.create(CrawlConfig(target_url="http://127.0.0.1:9/"))
        _seed(manager.store.db_path, record.id)
        started = time.perf_counter()
        first = await manager.pages_after(record.id, limit=201)
        elapsed = time.perf_counter() - started
        assert len(first) == 201 and first[1].url.endswith("/p/1")  # after the seed page
        later = await manager.pages_after(record.id, after_id=first[199].id, limit=201)
        assert later[0].id == first[200].id  # the next page starts where this one ended
        failed = await manager.pages_after(record.id, status=PageStatus.FAILED, limit=5)
        assert [p.url.rsplit("/", 1)[1] for p in failed] == ["3", "6", "9", "12", "15"]
        # LIKE metacharacters are literal: "%" and "_" match only themselves
        assert [p.title for p in await manager.pages_after(record.id, search="50% _off_")] == [
            "50% _off_ Sale"
        ]
        assert await manager.pages_after(record.id, search="5_%") == []
        hits = await manager.pages_after(record.id, search="/P/19999", limit=50)  # URL, any case
        assert [p.url for p in hits] == ["http://127.0.0.1:9/p/19999"] + [
            f"http://127.0.0.1:9/p/19999{d}" for d in range(10)
        ]
        counts = await manager.page_counts(record.id)
        assert sum(counts.values()) == ROWS + 1
        assert elapsed < 1.0, f"first page of {ROWS} rows took {elapsed:.3f}s"
    finally:
        await manager.close()
