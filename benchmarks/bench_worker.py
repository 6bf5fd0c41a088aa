"""Background worker benchmark: a detached crawl against the same crawl in-process.

    python benchmarks/bench_worker.py [--pages 2000] [--concurrency 16] [--repeat 3]

Generates the benchmark site (sitegen.py), serves it with the fallback static server on
127.0.0.1 (static_server.py, its own process), then crawls it twice in fresh data dirs:
(1) `crawl URL --headless` (the crawl runs in the CLI process), (2) `crawl URL --detach` (the
CLI starts a worker and returns; the crawl runs there). Prints, for each, pages/s over the
session's own elapsed time (median of `--repeat` alternated runs); for the detached one also
how long `--detach` took to return, the time from connecting to the worker's channel to its
first snapshot (median of several connects), and the worker's peak RSS (sampled from /proc
while it runs; its parse processes not included). Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sitegen import generate  # noqa: E402

from tui_scraper.backends.sqlite.lease import owner_alive, read_owner  # noqa: E402
from tui_scraper.runtime.channel.paths import socket_path  # noqa: E402
from tui_scraper.service.channel_client import ChannelClient  # noqa: E402

PY = sys.executable
CLI = [PY, "-m", "tui_scraper"]


def _serve(site: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [PY, str(HERE / "static_server.py"), str(site), str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit("the static server did not start")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/"


def _crawl_args(url: str, concurrency: int) -> list[str]:
    c = str(concurrency)
    return ["crawl", url, "--ignore-robots", "--concurrency", c, "--per-host", c]


def _show(data: Path, session_id: str) -> dict[str, object]:
    out = subprocess.run(
        [*CLI, "--data-dir", str(data), "show", session_id, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    record = json.loads(out.stdout)
    assert isinstance(record, dict)
    return record


def _rate(record: dict[str, object]) -> tuple[int, float]:
    progress = record["progress"]
    assert isinstance(progress, dict)
    return int(progress["done"]), float(progress["elapsed_s"])


def in_process(data: Path, url: str, concurrency: int) -> tuple[int, float]:
    out = subprocess.run(
        [*CLI, "--data-dir", str(data), *_crawl_args(url, concurrency), "--headless"],
        capture_output=True,
        text=True,
        check=True,
    )
    session_id = out.stdout.strip().splitlines()[0]
    return _rate(_show(data, session_id))


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


async def _first_snapshot_s(path: Path, tries: int = 5) -> float:
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        client = await ChannelClient.connect(path)
        times.append(time.perf_counter() - started)
        await client.close()
    return statistics.median(times)


def detached(data: Path, url: str, concurrency: int) -> dict[str, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [*CLI, "--data-dir", str(data), *_crawl_args(url, concurrency), "--detach"],
        capture_output=True,
        text=True,
        check=True,
    )
    returned = time.perf_counter() - started
    session_id = out.stdout.strip().splitlines()[-1]
    pid = int(read_owner(data, session_id)["pid"])
    snapshot_s = asyncio.run(_first_snapshot_s(socket_path(data, session_id)))
    peak = 0
    while owner_alive(data, session_id):
        peak = max(peak, _rss_kib(pid))
        time.sleep(0.1)
    done, elapsed = _rate(_show(data, session_id))
    return {
        "returned_s": returned,
        "snapshot_s": snapshot_s,
        "rss_mib": peak / 1024,
        "done": done,
        "elapsed_s": elapsed,
    }


def _each(values: list[float], digits: int = 0) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    server = None
    try:
        generate(work / "site", args.pages)
        server, url = _serve(work / "site", work / "access.log")
        headless: list[float] = []
        runs: list[dict[str, float]] = []
        for n in range(args.repeat):  # alternated: a warm-up or a busy moment hits both
            done, elapsed = in_process(work / f"headless{n}", url, args.concurrency)
            headless.append(done / elapsed)
            runs.append(detached(work / f"detached{n}", url, args.concurrency))
        rates = [r["done"] / r["elapsed_s"] for r in runs]
        median = statistics.median
        print(f"{args.pages} pages, concurrency {args.concurrency}, {args.repeat} runs each")
        print(f"in-process (--headless): median {median(headless):.0f} pages/s {_each(headless)}")
        print(f"detached   (--detach):   median {median(rates):.0f} pages/s {_each(rates)}")
        returned = [r["returned_s"] for r in runs]
        print(f"--detach returned after: median {median(returned):.2f} s {_each(returned, 2)}")
        snapshot_ms = median([r["snapshot_s"] for r in runs]) * 1000
        print(f"connect to first snapshot: {snapshot_ms:.1f} ms (median)")
        print(f"worker peak RSS (main process): {max(r['rss_mib'] for r in runs):.0f} MiB")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
