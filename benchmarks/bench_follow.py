"""How fast a follower elsewhere sees a PostgreSQL session's checkpoints, and what it costs.

    python benchmarks/bench_follow.py [--rounds 40] [--url postgresql://...]

A store in this process plays the worker (it holds the lease and commits one-page checkpoints);
a `StoreFollower` on a second store (another "machine") follows the session. Prints, over
`--rounds` checkpoints spaced past the follower's 4 Hz coalescing, the time from a checkpoint's
commit to the follower's snapshot showing it — woken by LISTEN/NOTIFY, then by the 2 s poll
alone (its feed replaced by a poll-only one) — and the follower's reads and CPU per second while
a session is followed. Without --url it starts a private cluster (tests/pg_server.py).
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import CrawlConfig, LeaseOwner, PageResult, PageStatus, Progress
from tui_scraper.ports import ChangeFeed, WakeReason
from tui_scraper.service.store_follow import StoreFollower

SITE = "http://127.0.0.1:9"


class _PollOnly:
    """A store whose change feed never hints: what the follower does on the poll alone."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def change_feed(self, session_id: str) -> ChangeFeed:
        return _PollFeed()


class _PollFeed:
    async def wait(self, timeout: float) -> WakeReason:
        await asyncio.sleep(timeout)
        return "poll"

    async def close(self) -> None:
        return None


async def _rounds(url: str, rounds: int, *, notify: bool) -> tuple[list[float], float, int]:
    runner = await Store.open(url)
    client = await Store.open(url, readonly=True)
    try:
        record = await runner.create_session(CrawlConfig(target_url=f"{SITE}/"), who="bench")
        owner = LeaseOwner(host="bench", pid=os.getpid(), process_start=time.time(), run_id="b")
        await runner.acquire_run(record.id, owner, who="bench", reason="bench")
        source: Any = client if notify else _PollOnly(client)
        follower = StoreFollower(source, client.lease_holder, record.id)
        snapshots = aiter(follower)
        await anext(snapshots)
        latencies: list[float] = []
        cpu0, wall0 = time.process_time(), time.monotonic()
        reads0 = follower.reads
        for n in range(1, rounds + 1):
            await runner.pending_controls(record.id)  # (warm the pool's connection)
            seed = (await runner.claim_batch(record.id, 1, now=0)) or None
            page_id = seed[0].id if seed else None
            url_ = seed[0].url if seed else f"{SITE}/{n}"
            result = PageResult(
                page_id=page_id,
                url=url_,
                status=PageStatus.DONE,
                attempts=1,
                fetched_at=float(n),
            )
            waiting = asyncio.ensure_future(anext(snapshots))
            while not follower.waiting:
                await asyncio.sleep(0.01)
            committed = time.monotonic()
            await runner.checkpoint(record.id, [result], Progress(done=n), heartbeat=n)
            snapshot = await waiting
            while snapshot.progress.done < n:
                snapshot = await anext(snapshots)
            latencies.append(time.monotonic() - committed)
            await asyncio.sleep(0.3)
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        return latencies, cpu / wall, round((follower.reads - reads0) / wall, 1)
    finally:
        await client.close()
        await runner.close()


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        server = PgServer.start()
        url = server.new_database()
    try:
        for notify in (True, False):
            latencies, cpu_share, reads = await _rounds(url, args.rounds, notify=notify)
            how = "LISTEN/NOTIFY + 2 s poll" if notify else "2 s poll alone"
            print(
                f"{how:26} commit -> follower snapshot: {_ms(latencies)} "
                f"({len(latencies)} checkpoints); this process (worker + follower) "
                f"{cpu_share * 1000:.0f} ms CPU/s, follower {reads} reads/s"
            )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
