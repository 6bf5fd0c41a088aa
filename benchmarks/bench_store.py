"""Store benchmark: claim from a 1,000,000-row frontier, resume on it, checkpoint throughput.

    python benchmarks/bench_store.py [--rows 1000000] [--batches 20]

Prints (1) time to claim 100 URLs from the frontier, (2) requeue_fetching + first claim
(resume), (3) checkpoint rows/s with 500-result batches of ~10 new links each, and page_counts.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import (
    CrawlConfig,
    DiscoveredLink,
    PageResult,
    PageStatus,
    Progress,
    Status,
)


def fill_frontier(db_path: Path, session_id: str, rows: int) -> float:
    """Bulk-load queued rows in one transaction (a test fixture, not the store's API)."""
    started = time.perf_counter()
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO pages (session_id, url, depth, parent_id, status) "
            "VALUES (?, ?, ?, 1, 'queued')",
            ((session_id, f"http://bench.test/p/{i}", 1 + i % 5) for i in range(rows)),
        )
        db.execute(
            "UPDATE sessions SET pages_total = pages_total + ? WHERE id = ?", (rows, session_id)
        )
        db.execute("COMMIT")
    finally:
        db.close()
    return time.perf_counter() - started


async def main(rows: int, batches: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        store = await Store.open(data_dir)
        record = await store.create_session(CrawlConfig("http://bench.test/"), who="bench")
        await store.close()
        load_s = fill_frontier(data_dir / "scraper.db", record.id, rows)
        print(f"frontier: {rows:,} queued rows loaded in {load_s:.1f} s")

        store = await Store.open(data_dir)
        try:
            await store.transition(record.id, Status.RUNNING, reason="bench", who="bench")
            t0 = time.perf_counter()
            claimed = await store.claim_batch(record.id, 100, now=time.time())
            claim_ms = (time.perf_counter() - t0) * 1000
            print(f"(1) claim {len(claimed)} URLs from {rows:,}-row frontier: {claim_ms:.2f} ms")

            # A dead run left thousands of rows fetching; resume = requeue + first claim.
            await store.claim_batch(record.id, 5000, now=time.time())
            t0 = time.perf_counter()
            requeued = await store.requeue_fetching(record.id)
            first = await store.claim_batch(record.id, 100, now=time.time())
            resume_ms = (time.perf_counter() - t0) * 1000
            print(
                f"(2) resume (requeue_fetching of {requeued:,} rows + first claim of "
                f"{len(first)}): {resume_ms:.2f} ms"
            )
            await store.requeue_fetching(record.id)

            rows_written = 0
            total_s = 0.0
            link_no = 0
            for _ in range(batches):
                batch = await store.claim_batch(record.id, 500, now=time.time())
                results = []
                for page in batch:
                    links = [
                        DiscoveredLink(
                            f"http://bench.test/n/{link_no + j}", page.depth + 1, page.id
                        )
                        for j in range(10)
                    ]
                    link_no += 10
                    results.append(
                        PageResult(
                            page.id,
                            page.url,
                            PageStatus.DONE,
                            1,
                            http_status=200,
                            title="title",
                            fetched_at=time.time(),
                            size=1000,
                            links=links,
                        )
                    )
                t0 = time.perf_counter()
                await store.checkpoint(
                    record.id, results, Progress(done=len(results)), heartbeat=time.time()
                )
                total_s += time.perf_counter() - t0
                rows_written += len(results) + sum(len(r.links) for r in results)
            per_batch_ms = total_s / batches * 1000
            print(
                f"(3) checkpoint, {batches} batches of 500 results x 10 new links: "
                f"{per_batch_ms:.1f} ms/batch, {batches * 500 / total_s:,.0f} results/s, "
                f"{rows_written / total_s:,.0f} rows/s (results + new links), synchronous=FULL"
            )
            t0 = time.perf_counter()
            counts = await store.page_counts(record.id)
            counts_ms = (time.perf_counter() - t0) * 1000
            print(f"    page_counts over {sum(counts.values()):,} rows: {counts_ms:.1f} ms")
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.batches))
