"""Throughput with the live progress screen open vs headless, on the same site, one run.

    python benchmarks/bench_tui.py [--pages 2000] [--rounds 3]

Each crawl runs in a fresh process: either the engine alone (SessionManager, no Textual
imported) or the Textual app in headless mode (`App.run_test`) with the live progress screen
sampling at its normal rate. Rounds alternate the order; the figure is the ratio of medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path
from tui_scraper.domain.config import CrawlConfig

mode, url, data_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
config = CrawlConfig(target_url=url, concurrency=16, per_host_concurrency=16, respect_robots=False)

async def headless() -> float:
    from tui_scraper.runtime.manager import SessionManager
    manager = await SessionManager.open(data_dir, who="bench")
    session = await manager.create(config)
    started = time.perf_counter()
    handle = await manager.start(session.id)
    await handle.wait()
    elapsed = time.perf_counter() - started
    await manager.close()
    return elapsed

async def live() -> float:
    from tui_scraper.ui.app import ScraperApp
    from tui_scraper.ui.screens.progress import ProgressScreen
    app = ScraperApp(data_dir, new_config=config)
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.service.running_ids():
            await pilot.pause(0.01)
        started = time.perf_counter()
        assert isinstance(app.screen, ProgressScreen), app.screen
        while app.service.running_ids():
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    return elapsed

if __name__ == "__main__":
    elapsed = asyncio.run(headless() if mode == "headless" else live())
    print(json.dumps({"mode": mode, "seconds": elapsed}))
"""


def run_child(mode: str, url: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(CHILD)
        out = subprocess.run(
            [sys.executable, str(script), mode, url, str(Path(tmp) / "data")],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{mode} crawl failed:\n{out.stderr[-2000:]}")
        return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from run import OUT, serve  # the benchmark runner's site and server
    from sitegen import generate

    site = OUT / "site"
    generate(site, args.pages)
    with serve(site, "auto") as server:
        print(f"site: {args.pages} pages served by {server.kind} at {server.url}")
        times: dict[str, list[float]] = {"headless": [], "live": []}
        run_child("headless", server.url)  # warm-up: page cache, bytecode
        for round_no in range(args.rounds):
            order = ["headless", "live"] if round_no % 2 == 0 else ["live", "headless"]
            for mode in order:
                seconds = run_child(mode, server.url)
                times[mode].append(seconds)
                print(
                    f"  round {round_no + 1}  {mode:8}  {seconds:6.1f} s  "
                    f"{args.pages / seconds:6.0f} pages/s",
                    flush=True,
                )
    head = statistics.median(times["headless"])
    live = statistics.median(times["live"])
    print(
        f"headless median {args.pages / head:.0f} pages/s; live screen median "
        f"{args.pages / live:.0f} pages/s; the live screen costs "
        f"{(1 - head / live) * 100:.1f} % of headless throughput"
    )


if __name__ == "__main__":
    time.sleep(0)
    main()
