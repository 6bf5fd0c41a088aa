"""What politeness shared by the workers costs one PostgreSQL worker on an unthrottled crawl.

    python benchmarks/bench_host_pacing.py [--pages 2000] [--rounds 3] [--url postgresql://...]

The same session crawled to completion by the real engine (SessionRunner, 4 concurrent requests,
`--per-host 4`, no rate) against a generated site on 127.0.0.1, alternating in one process the
shared host gate (engine/shared_gate.py: every start reserved in the database) and the
in-memory one a SQLite session uses, each round on a fresh database. Prints pages/s, the CPU ms
per page of this process and its reaped children (the fetch worker), the database transactions
per page (pg_stat_database.xact_commit: every round trip of ours is one) and the reservations
per page. Without --url it starts a private cluster (tests/pg_server.py). Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from tests.engine.site import SiteServer, generated_site
from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import CrawlConfig, PageStatus, Status
from tui_scraper.engine.crawler import Crawler
from tui_scraper.engine.politeness import HostGate
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import SessionRunner

_SHARED = Crawler._make_gate


def _in_memory(crawler: Crawler, cfg: CrawlConfig) -> HostGate:
    return HostGate(cfg.per_host_concurrency, cfg.rate_per_host)


def _commits(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        assert row is not None
        return int(row[0])


async def _round(url: str, site: SiteServer, gate: Any) -> tuple[float, float, float, float]:
    Crawler._make_gate = gate  # type: ignore[method-assign]
    store = await Store.open(url)
    reserved = 0
    reserve = store.reserve_host

    async def counted(*args: Any, **kw: Any) -> Any:
        nonlocal reserved
        reserved += 1
        return await reserve(*args, **kw)

    store.reserve_host = counted  # type: ignore[method-assign]
    try:
        config = CrawlConfig(target_url=site.base + "/", concurrency=4, per_host_concurrency=4)
        session_id = (await store.create_session(config, who="bench")).id
        with tempfile.TemporaryDirectory() as tmp:
            runner = await SessionRunner.acquire(
                store, session_id, who="bench", secrets=DataDirSecrets(Path(tmp)), parse_workers=1
            )
            await asyncio.sleep(1.2)  # the statistics collector reports at most once a second
            commits = _commits(url)
            before = os.times()
            started = time.perf_counter()
            assert await runner.run() is Status.COMPLETED
            wall = time.perf_counter() - started
            after = os.times()
        done = (await store.page_counts(session_id))[PageStatus.DONE]
    finally:
        await store.close()
    await asyncio.sleep(1.5)
    transactions = _commits(url) - commits
    cpu = sum(after[:4]) - sum(before[:4])
    return done / wall, 1000 * cpu / done, transactions / done, reserved / done


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default="", help="a database to create one per round in")
    args = parser.parse_args()
    server = None if args.url else PgServer.start()
    site = SiteServer(generated_site(args.pages)).start()
    try:
        print(f"one session, {args.pages} pages, 4 concurrent, --per-host 4, no rate")
        for n in range(args.rounds):
            for name, gate in (("shared", _SHARED), ("in-memory", _in_memory)):
                url = server.new_database() if server else args.url
                rate, cpu_ms, transactions, reserved = await _round(url, site, gate)
                print(
                    f"  round {n + 1} {name:9} {rate:7.1f} pages/s  {cpu_ms:5.2f} CPU ms/page  "
                    f"{transactions:5.2f} transactions/page  {reserved:5.3f} reservations/page",
                    flush=True,
                )
    finally:
        Crawler._make_gate = _SHARED  # type: ignore[method-assign]
        site.stop()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
