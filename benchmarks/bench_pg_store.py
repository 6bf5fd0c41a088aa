"""PostgreSQL store benchmark, with the SQLite store beside it on the same work.

    python benchmarks/bench_pg_store.py [--rows 1000000] [--claims 200] [--pages 400]
                                        [--url postgresql://...]

Prints (1) claims/s from a frontier of `--rows` queued rows (batches of 100, `--claims` batches),
(2) a 500-result checkpoint with ~10 new links each, and (3) one session crawled to completion
by the real engine (SessionRunner, 4 concurrent requests) against a generated site on 127.0.0.1:
pages/s and the crawling process's CPU ms per page, then (4) one PostgreSQL session crawled by
1, 2 and 4 workers at once (`--workers`; each a SessionRunner with a store and fetch worker of
its own, the joined ones by SessionRunner.join, their coordinators sharing this process's event
loop, so the figure is a lower bound of separate `tui-scraper worker` processes). Without
--url it starts a private cluster (tests/pg_server.py; fsync off there, so figures are the
store's cost rather than the disk's).
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.engine.site import SiteServer, generated_site
from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store as PgStore
from tui_scraper.backends.sqlite import Store as SqliteStore
from tui_scraper.domain import (
    CrawlConfig,
    DiscoveredLink,
    PageResult,
    PageStatus,
    Progress,
    Status,
)
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import SessionRunner

BATCH = 100


def _fill_pg(url: str, session_id: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY pages (session_id, url, depth, parent_id, status) FROM STDIN"
            ) as copy,
        ):
            for i in range(rows):
                copy.write_row((session_id, f"http://bench.test/p/{i}", 1 + i % 5, 1, "queued"))
        conn.execute(
            "UPDATE sessions SET pages_total = pages_total + %s WHERE id = %s", (rows, session_id)
        )
        conn.execute("ANALYZE pages")


def _fill_sqlite(db_path: Path, session_id: str, rows: int) -> None:
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


async def _claims_and_checkpoint(store: Any, session_id: str, claims: int) -> tuple[float, float]:
    started = time.perf_counter()
    claimed = []
    for _ in range(claims):
        claimed += await store.claim_batch(session_id, BATCH, now=time.time())
    claims_per_s = len(claimed) / (time.perf_counter() - started)
    results = [
        PageResult(
            page_id=c.id,
            url=c.url,
            status=PageStatus.DONE,
            attempts=1,
            title="t",
            links=[DiscoveredLink(f"{c.url}/l{j}", c.depth + 1, c.id) for j in range(10)],
        )
        for c in claimed[:500]
    ]
    started = time.perf_counter()
    await store.checkpoint(session_id, results, Progress(done=500), heartbeat=time.time())
    return claims_per_s, time.perf_counter() - started


async def _crawl(store: Any, site: SiteServer, tmp: Path) -> tuple[float, float, int]:
    config = CrawlConfig(target_url=site.base + "/", concurrency=4, per_host_concurrency=4)
    session_id = (await store.create_session(config, who="bench")).id
    runner = await SessionRunner.acquire(
        store, session_id, who="bench", secrets=DataDirSecrets(tmp), parse_workers=1
    )
    before = os.times()
    started = time.perf_counter()
    assert await runner.run() is Status.COMPLETED
    wall = time.perf_counter() - started
    after = os.times()
    cpu = sum(after[:4]) - sum(before[:4])  # this process and its reaped children
    done = (await store.page_counts(session_id))[PageStatus.DONE]
    return done / wall, 1000 * cpu / max(done, 1), done


async def _crawl_shared(url: str, site: SiteServer, tmp: Path, workers: int) -> tuple[float, int]:
    stores = [await PgStore.open(url) for _ in range(workers)]
    try:
        config = CrawlConfig(target_url=site.base + "/", concurrency=4, per_host_concurrency=4)
        session_id = (await stores[0].create_session(config, who="bench")).id
        secrets = DataDirSecrets(tmp)
        runners = [
            await SessionRunner.acquire(
                stores[0], session_id, who="bench", secrets=secrets, parse_workers=1
            )
        ]
        for store in stores[1:]:
            runners.append(
                await SessionRunner.join(
                    store, session_id, who="bench", secrets=secrets, parse_workers=1
                )
            )
        started = time.perf_counter()
        await asyncio.gather(*(r.run() for r in runners))
        wall = time.perf_counter() - started
        done = (await stores[0].page_counts(session_id))[PageStatus.DONE]
        return done / wall, done
    finally:
        for store in stores:
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--url", default="")
    parser.add_argument("--workers", default="1,2,4", help="worker counts for (4), or empty")
    args = parser.parse_args()
    server = None
    if args.url:
        admin = args.url
    else:
        server = PgServer.start()
        admin = server.admin_url
    try:
        pg_url = server.new_database() if server else admin
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            rows: dict[str, tuple[float, float]] = {}
            pg = await PgStore.open(pg_url)
            lite = await SqliteStore.open(data_dir)
            try:
                for name, store in (("postgres", pg), ("sqlite", lite)):
                    record = await store.create_session(
                        CrawlConfig(target_url="http://bench.test/"), who="bench"
                    )
                    await store.transition(record.id, Status.RUNNING, reason="b", who="bench")
                    started = time.perf_counter()
                    if name == "postgres":
                        await asyncio.to_thread(_fill_pg, pg_url, record.id, args.rows)
                    else:
                        await asyncio.to_thread(_fill_sqlite, store.db_path, record.id, args.rows)
                    fill = time.perf_counter() - started
                    rows[name] = await _claims_and_checkpoint(store, record.id, args.claims)
                    print(f"{name:9} fill {args.rows:,} rows {fill:6.1f} s", flush=True)
                print(f"\nclaims/s from {args.rows:,} queued (batches of {BATCH}), checkpoint")
                for name, (claims, checkpoint) in rows.items():
                    print(
                        f"  {name:9} {claims:9.0f} claims/s   500 results + 5,000 links: "
                        f"{checkpoint * 1000:6.0f} ms"
                    )
                site = SiteServer(generated_site(args.pages)).start()
                try:
                    print(f"\none session, {args.pages} pages, 4 concurrent (SessionRunner)")
                    for name, store in (("postgres", pg), ("sqlite", lite)):
                        rate, cpu_ms, done = await _crawl(store, site, Path(tmp))
                        print(
                            f"  {name:9} {rate:7.1f} pages/s   {cpu_ms:5.2f} CPU ms/page "
                            f"(coordinator + reaped children)   {done} done",
                            flush=True,
                        )
                    counts = [int(n) for n in args.workers.split(",") if n.strip()]
                    if counts:
                        print(f"\none postgres session, {args.pages} pages, several workers")
                    for n in counts:
                        rate, done = await _crawl_shared(pg_url, site, Path(tmp), n)
                        print(f"  {n} worker(s) {rate:7.1f} pages/s   {done} done", flush=True)
                finally:
                    site.stop()
            finally:
                await pg.close()
                await lite.close()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
