"""Start-up and exit benchmark: the time a command spends outside crawling.

    python benchmarks/bench_startup.py [--repeat 5] [--pages 200] [--cli 'python -m tui_scraper']

Each figure is the median (and range) of `--repeat` runs of the installed `tui-scraper` (or the
`--cli` command) as a child process: wall time from spawn to the exit of that process (its
output goes to files, so a helper process still holding a pipe does not count), and its CPU
time (user + sys of the process and the children it reaped; the parse workers are the
forkserver's children and are not in it). CPU is the figure a busy machine moves least.

- `--help`: parsing only;
- `sessions --json` and `show ID --json` on a data dir holding a few sessions (the ones the
  1-page crawls below leave behind);
- `crawl URL --headless --concurrency 16 --per-host 16 --ignore-robots` in a fresh data dir, on
  a 1-page site and on the `--pages` benchmark site (sitegen.py), both served on 127.0.0.1 by a
  threaded server in this process. Printed: the wall time, the session's own running time (from
  its `running` transition to its final one: `start_time`/`end_time` of `show --json`), and the
  difference, split into start-up (spawn to `running`) and exit (final state to process exit).

Figures only: nothing here asserts a time. The machine may be shared: the load average before
and after is printed too, and whether the package's own modules have bytecode to load: with
PYTHONDONTWRITEBYTECODE set and no `__pycache__` (a source checkout), every process compiles
them again, which a `pip install` never does.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sitegen import generate  # noqa: E402  (benchmarks/ is not a package)

OUT = HERE / "out"
CRAWL_OPTIONS = ["--headless", "--concurrency", "16", "--per-host", "16", "--ignore-robots"]
ONE_PAGE = b"<html><head><title>one</title></head><body><p>One page, no links.</p></body></html>"


def tui_scraper() -> list[str]:
    exe = Path(sys.executable).with_name("tui-scraper")
    found = str(exe) if exe.exists() else shutil.which("tui-scraper")
    if found is None:
        sys.exit("tui-scraper is not installed in this environment")
    return [found]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """`root` over HTTP on 127.0.0.1 (a thread of this process); yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Ran:
    wall_s: float  # spawn to exit of the command's own process
    cpu_s: float  # its user + sys time (the process and the children it reaped)
    stdout: str


def run(argv: list[str]) -> Ran:
    """Run `argv` to its exit; output goes to files, so the wall time ends with the process
    itself, not with the last helper process that still holds a pipe."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(argv)} exited {proc.returncode}: {err.read().strip()[-500:]}")
        out.seek(0)
        return Ran(wall, usage.ru_utime + usage.ru_stime, out.read())


@dataclass(frozen=True)
class CrawlRun:
    ran: Ran
    running_s: float
    startup_s: float
    exit_s: float

    @property
    def outside_s(self) -> float:
        return self.ran.wall_s - self.running_s


def crawl_once(cli: list[str], data_dir: Path, url: str) -> CrawlRun:
    spawned = time.time()
    ran = run([*cli, "--data-dir", str(data_dir), "crawl", url, *CRAWL_OPTIONS, "--json"])
    session_id = json.loads(ran.stdout.strip().splitlines()[-1])["id"]
    shown = run([*cli, "--data-dir", str(data_dir), "show", session_id, "--json"])
    record = json.loads(shown.stdout)
    begin, end = float(record["start_time"]), float(record["end_time"])
    return CrawlRun(ran, end - begin, begin - spawned, spawned + ran.wall_s - end)


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):7.0f} ms  ({min(ms):.0f}–{max(ms):.0f})"


def report(name: str, runs: list[Ran]) -> None:
    walls, cpus = [r.wall_s for r in runs], [r.cpu_s for r in runs]
    print(f"{name:<24} {fmt(walls)}   CPU {fmt(cpus)}")


def report_crawls(name: str, runs: list[CrawlRun]) -> None:
    print(f"crawl --headless, {name}:")
    report("  wall, CPU of the CLI", [r.ran for r in runs])
    print(f"  session running        {fmt([r.running_s for r in runs])}")
    print(f"  wall - running         {fmt([r.outside_s for r in runs])}")
    print(f"    start-up (to running) {fmt([r.startup_s for r in runs])}")
    print(f"    exit (final to exit)  {fmt([r.exit_s for r in runs])}")


def bytecode_note(cli: list[str]) -> str:
    """Whether the measured command finds compiled modules of its package: a fact of the setup
    that moves every figure here."""
    python = cli[0] if cli[1:] == ["-m", "tui_scraper"] else sys.executable
    code = (
        "import importlib.util, os, tui_scraper.quick_exit as q; "
        "print(os.path.exists(importlib.util.cache_from_source(q.__file__)))"
    )
    probe = subprocess.run([python, "-c", code], capture_output=True, text=True)
    found = "found" if probe.stdout.strip() == "True" else "none (compiled at every start)"
    env = os.environ.get("PYTHONDONTWRITEBYTECODE")
    return f"bytecode of tui_scraper's modules: {found}" + (
        f"; PYTHONDONTWRITEBYTECODE={env}" if env else ""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--cli", help="the command to measure (default: the installed one)")
    args = parser.parse_args()
    cli = shlex.split(args.cli) if args.cli else tui_scraper()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(bytecode_note(cli))
    site = generate(OUT / f"site-{args.pages}", args.pages)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch_name:
        scratch = Path(scratch_name)
        one = scratch / "one-page"
        one.mkdir()
        (one / "index.html").write_bytes(ONE_PAGE)
        history = scratch / "history"
        with serve(one) as one_url, serve(site.root) as site_url:
            # Interleaved, so a busy moment of the machine hits every figure alike.
            one_runs: list[CrawlRun] = []
            site_runs: list[CrawlRun] = []
            helps: list[Ran] = []
            for i in range(args.repeat):
                helps.append(run([*cli, "--help"]))
                # The 1-page crawls fill the history the listing below reads.
                one_runs.append(crawl_once(cli, history, one_url))
                site_runs.append(crawl_once(cli, scratch / f"site-{i}", site_url))
        listing: list[Ran] = []
        shows: list[Ran] = []
        session_id = ""
        for _ in range(args.repeat):
            listing.append(run([*cli, "--data-dir", str(history), "sessions", "--json"]))
            session_id = json.loads(listing[-1].stdout)[0]["id"]
        for _ in range(args.repeat):
            shows.append(run([*cli, "--data-dir", str(history), "show", session_id, "--json"]))
    print(f"median of {args.repeat} (range); wall: spawn to exit of the command's process")
    report("--help", helps)
    report(f"sessions --json ({args.repeat})", listing)
    report("show ID --json", shows)
    report_crawls("1 page", one_runs)
    report_crawls(f"{args.pages} pages", site_runs)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
