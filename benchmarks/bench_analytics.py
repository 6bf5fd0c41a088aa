"""What the session analytics cost a crawl: tui-scraper with and without them, interleaved.

    python benchmarks/bench_analytics.py [--pages 3000] [--rounds 5] [--concurrency 16]
    python benchmarks/bench_analytics.py --store [--batches 200]

The same headless crawl of benchmarks/run.py's generated site, run alternately with the
analytics counted in every checkpoint (the default) and with TUI_SCRAPER_ANALYTICS=0 (the
switch exists for this comparison only). Prints, per round and as medians, the wall time and
the CPU time of the crawl's whole process tree per page, and their ratio (on / off). Figures
are printed, never asserted: the machine is noisy, compare within one run.

`--store` measures the part the analytics add alone, with less noise: the CPU time (this
process, the store's thread included) of SQLite checkpoints of 300 results each, alternately
with and without the tally, and the tally's own CPU time per result.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import OUT, Crawler, _tui_scraper_cmd, run_one, serve  # noqa: E402
from sitegen import generate  # noqa: E402


def _crawler(name: str, analytics: bool, concurrency: int) -> Crawler:
    c = str(concurrency)
    tui = _tui_scraper_cmd() or ["tui-scraper"]
    env = ["env", f"TUI_SCRAPER_ANALYTICS={1 if analytics else 0}"]
    return Crawler(
        name,
        lambda url, tmp: [
            *env,
            *tui,
            *["--data-dir", str(tmp), "crawl", url, "--headless"],
            *["--concurrency", c, "--per-host", c, "--ignore-robots"],
        ],
    )


async def store_bench(batches: int) -> None:
    from tui_scraper.backends.sqlite import Store
    from tui_scraper.domain import CrawlConfig, DiscoveredLink, PageResult, PageStatus, Progress
    from tui_scraper.domain.status import Status
    from tui_scraper.engine.analytics import tally

    size = 300
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "data")
        try:
            record = await store.create_session(CrawlConfig("http://bench.test/"), who="bench")
            sid = record.id
            await store.transition(sid, Status.RUNNING, reason="bench", who="bench")
            [seed] = await store.claim_batch(sid, 1, now=0)
            found = [
                DiscoveredLink(f"http://h{i % 7}.bench.test/p/{i}", 1, seed.id)
                for i in range(size * batches)
            ]
            done = PageResult(seed.id, seed.url, PageStatus.DONE, 1, links=found)
            await store.checkpoint(sid, [done], Progress(), heartbeat=time.time())
            cpu: dict[bool, list[float]] = {True: [], False: []}
            all_results = []
            for k in range(batches):
                claimed = await store.claim_batch(sid, size, now=time.time())
                results = [
                    PageResult(
                        p.id,
                        p.url,
                        PageStatus.DONE if rng.random() > 0.05 else PageStatus.FAILED,
                        1,
                        http_status=200 if rng.random() > 0.05 else 404,
                        title="t",
                        fetched_at=time.time(),
                        elapsed_ms=rng.lognormvariate(3, 0.7),
                        size=rng.randint(10_000, 60_000),
                        depth=1,
                    )
                    for p in claimed
                ]
                all_results.append(results)
                with_tally = k % 2 == 0
                t0 = time.process_time()
                await store.checkpoint(
                    sid,
                    results,
                    Progress(),
                    heartbeat=time.time(),
                    tally=tally if with_tally else None,
                )
                cpu[with_tally].append(time.process_time() - t0)
            t0 = time.process_time()
            for results in all_results:
                tally(results, time.time())
            per_result = (time.process_time() - t0) / (size * batches)
        finally:
            await store.close()
    on, off = statistics.mean(cpu[True]), statistics.mean(cpu[False])
    print(f"{batches} checkpoints of {size} results, alternately with and without the tally")
    print(f"CPU per checkpoint: with {on * 1000:.2f} ms, without {off * 1000:.2f} ms")
    print(f"  added per result: {(on - off) / size * 1e6:.1f} us")
    print(f"tally alone: {per_result * 1e6:.1f} us CPU per result")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    parser.add_argument("--store", action="store_true", help="the store-level measurement")
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    if args.store:
        asyncio.run(store_bench(args.batches))
        return
    info = generate(OUT / "site", args.pages, 1)
    expected = set(info.pages)
    on = _crawler("analytics on", True, args.concurrency)
    off = _crawler("analytics off", False, args.concurrency)
    walls: dict[str, list[float]] = {on.name: [], off.name: []}
    cpus: dict[str, list[float]] = {on.name: [], off.name: []}
    with serve(info.root, args.server) as server:
        print(f"server: {server.kind}; {len(expected)} pages; C={args.concurrency}")
        for c in (on, off):
            run_one(c, server, expected)  # warm-up
        for k in range(args.rounds):
            for c in (on, off) if k % 2 == 0 else (off, on):
                r = run_one(c, server, expected)
                if r.missing or r.note:
                    print(f"  round {k + 1} {c.name}: missing {r.missing} {r.note}")
                walls[c.name].append(r.wall)
                cpus[c.name].append(r.cpu_ms_per_page)
                print(
                    f"  round {k + 1}  {c.name:<14} {r.wall:6.2f} s  "
                    f"{len(expected) / r.wall:6.0f} p/s  cpu {r.cpu_ms_per_page:5.3f} ms/page",
                    flush=True,
                )
    wall_on, wall_off = statistics.median(walls[on.name]), statistics.median(walls[off.name])
    cpu_on, cpu_off = statistics.median(cpus[on.name]), statistics.median(cpus[off.name])
    per_round = [a / b for a, b in zip(cpus[on.name], cpus[off.name], strict=True)]
    print()
    print(f"median wall: on {wall_on:.2f} s, off {wall_off:.2f} s, ratio {wall_on / wall_off:.3f}")
    print(
        f"median CPU/page: on {cpu_on:.3f} ms, off {cpu_off:.3f} ms, ratio {cpu_on / cpu_off:.3f}"
        f" (per round {min(per_round):.3f}–{max(per_round):.3f})"
    )


if __name__ == "__main__":
    main()
