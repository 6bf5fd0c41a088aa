"""What the per-host queue of `stats` and the Analytics tab costs: one `queued_by_host` scan.

    python benchmarks/bench_host_queue.py [--rows 100000] [--hosts 200] [--rounds 3]

A SQLite session with `--rows` waiting pages spread over `--hosts` hosts (three ports each), then
the scan the report makes, timed: wall time and the CPU time of this process (the store's reader
thread included) per scan and per 1,000 waiting rows. Figures are printed, never asserted. A
running session's live tab makes this scan at most every HOST_QUEUE_REFRESH_S.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from tui_scraper.backends.sqlite.store import Store
from tui_scraper.domain import CrawlConfig


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _bench(rows: int, hosts: int, rounds: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-host-queue-"))
    try:
        store = await Store.open(data)
        record = await store.create_session(
            CrawlConfig(target_url="http://127.0.0.1:9/"), who="bench"
        )
        conn = sqlite3.connect(store.db_path)
        with conn:
            conn.executemany(
                "INSERT INTO pages (session_id, url, depth, status) VALUES (?, ?, 1, 'queued')",
                (
                    (record.id, f"http://h{i % hosts}.test:{8000 + i % 3}/p/{i}.html")
                    for i in range(rows)
                ),
            )
        conn.close()
        for n in range(rounds):
            wall, cpu = time.perf_counter(), _cpu()
            queued = await store.queued_by_host(record.id, 50)
            wall, cpu = time.perf_counter() - wall, _cpu() - cpu
            print(
                f"round {n + 1}: {rows:,} waiting rows, {len(queued)} hosts shown  "
                f"wall {wall * 1000:.0f} ms  cpu {cpu * 1000:.0f} ms  "
                f"({cpu * 1000 / (rows / 1000):.2f} ms cpu per 1,000 rows)"
            )
        await store.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(_bench(args.rows, args.hosts, args.rounds))


if __name__ == "__main__":
    main()
