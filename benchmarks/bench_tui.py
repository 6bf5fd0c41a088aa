"""What the live screen costs a crawl in a real terminal: the app in tmux vs `crawl --headless`.

    python benchmarks/bench_tui.py [--pages 2000] [--rounds 3] [--sizes 80x24,120x40]
    python benchmarks/bench_tui.py --compare DIR  # also the app of another checkout, same rounds
    python benchmarks/bench_tui.py --run-test     # the old figure: the app under App.run_test

The benchmark site (sitegen.py) served by nginx or the fallback server (run.py's `serve`), and
in each round, the order rotated from round to round, one crawl of each mode in a fresh data dir:

- headless: `tui-scraper crawl URL --headless` (the crawl in the CLI's own process);
- detached: `tui-scraper crawl URL --detach` (the crawl in a background worker, no screen);
- app WxH: the installed app, `tui-scraper crawl URL`, in a tmux terminal of W columns and H
  rows (a tmux server of its own: `tmux -L <socket>`). The app runs the crawl in a background
  worker and shows that worker's live screen, so this mode differs from `detached` by the
  screen alone: the app drawing it, and tmux parsing what it draws (no client is attached, so
  no outer terminal redraws it).

Every crawl: `--ignore-robots --concurrency C --per-host C`. Its time is the session's own,
from `running` to its final state (start_time and end_time of `show ID --json`), not the wall
time of a process; the app is waited on through the store (the session's state, polled
read-only), never a fixed sleep, and its tmux server is killed at the end, on error too.

CPU, exact (proctree.py): each crawl is started by a "measure" child that is a child subreaper,
so the tmux server (it daemonises), the app, the worker and the worker's parse processes are
all reaped by it and counted once: `tree` is user + sys of all of them per page (the CLI that
only started a detached worker is taken out). For the app modes, `app` is the app process's
own CPU until the crawl's end and `tmux` the tmux server's (/proc/PID/stat), and `worker` the rest
of the tree (the worker and its parse processes, plus the app's exit): where the screen's cost
goes. (The worker is the app's child, but its forkserver outlives it and is reaped by the
measure child, so the app's cutime would miss the parse processes: hence the difference.)

`app running` is the app's CPU from its session's start (the store says it runs) to its end
(per page, and per second of crawl: the screen's work is paced by the clock, not by pages):
what the screen took while the crawl ran, the app's start-up (before the crawl) left out.
`--compare DIR` adds the app modes again with the tui_scraper package of another checkout
(`git archive REV tui_scraper | tar -x -C DIR`), first on PYTHONPATH for the app and its
worker, in the same rounds: before/after, interleaved.

Prints, per mode, the median of the rounds and each round: pages/s, the ratio of its time to
headless's in the same round (> 1: slower), CPU ms/page; and the load average before and
after (the machine is shared: the figures move with it). Figures only: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import proctree  # noqa: E402  (benchmarks/ is not a package)

PY = sys.executable
CONSOLE_SCRIPT = Path(PY).with_name("tui-scraper")
CRAWL_TIMEOUT_S = 600.0
POLL_S = 0.1
STOPPED = ("completed", "failed", "interrupted", "paused")


@dataclass
class Crawl:
    mode: str
    seconds: float = 0.0  # the session's own time, running -> final
    pages: int = 0
    tree_cpu_s: float = 0.0
    app_cpu_s: float = 0.0  # the app process alone (app modes)
    # The app process from its session's start (the store says running, polled every POLL_S)
    # to its end: what drawing the live screen took while the crawl ran, start-up left out.
    app_crawl_cpu_s: float = 0.0
    tmux_cpu_s: float = 0.0  # the tmux server alone (app modes)
    status: str = ""

    @property
    def rate(self) -> float:
        return self.pages / self.seconds

    def ms_per_page(self, cpu_s: float) -> float:
        return cpu_s / self.pages * 1000 if self.pages else 0.0


def tui_scraper() -> list[str]:
    if CONSOLE_SCRIPT.exists():
        return [str(CONSOLE_SCRIPT)]
    found = shutil.which("tui-scraper")
    if found is None:
        raise SystemExit("bench_tui: the tui-scraper console script is not installed")
    return [found]


def crawl_args(url: str, concurrency: int) -> list[str]:
    c = str(concurrency)
    return ["crawl", url, "--ignore-robots", "--concurrency", c, "--per-host", c]


def finish(crawl: Crawl, data: Path, session_id: str) -> Crawl:
    """The session's own time and pages, from the store through the CLI."""
    out = subprocess.run(
        [*tui_scraper(), "--data-dir", str(data), "show", session_id, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    record = json.loads(out.stdout)
    crawl.status = str(record["status"])
    crawl.pages = int(record["progress"]["done"])
    crawl.seconds = float(record["end_time"]) - float(record["start_time"])
    return crawl


def start_measured(argv: list[str], env: dict[str, str] | None = None) -> proctree.Measured:
    # A session of its own: with autogroup scheduling a session is one scheduling group, as
    # a terminal's is; this script and the site's server are in another.
    child = subprocess.Popen(
        proctree.measure_argv(argv),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    assert child.stdout is not None
    measured = proctree.Measured()
    measured.follow(child.stdout)
    return measured


def run_cli(mode: str, data: Path, url: str, concurrency: int) -> Crawl:
    """`crawl --headless` or `crawl --detach`: the CLI (and its worker) under a measure child."""
    flag = "--headless" if mode == "headless" else "--detach"
    argv = [*tui_scraper(), "--data-dir", str(data), *crawl_args(url, concurrency), flag]
    measured = start_measured(argv)
    _, code, starter_cpu = measured.returned
    if code != 0:
        measured.take("FAILED")
        raise SystemExit(f"bench_tui: {mode} crawl failed: {measured.failure}")
    printed = measured.stdout.strip().splitlines()
    # --headless prints the id first, --detach last.
    session_id = printed[0] if mode == "headless" else printed[-1]
    # The measure child reports CPU once the whole tree (a detached worker too) is reaped.
    cpu = measured.take("CPU", timeout=CRAWL_TIMEOUT_S)
    tree_cpu = float(cpu) - (starter_cpu if mode == "detached" else 0.0)
    return finish(Crawl(mode, tree_cpu_s=tree_cpu), data, session_id)


class Tmux:
    """A tmux server of our own (`-L socket`): nothing else's sessions are touched."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def argv(self, *args: str) -> list[str]:
        return ["tmux", "-L", self.socket, *args]

    def query(self, fmt: str) -> str:
        out = subprocess.run(
            self.argv("display-message", "-p", "-t", "bench", fmt), capture_output=True, text=True
        )
        return out.stdout.strip()

    def screen(self) -> str:
        out = subprocess.run(
            self.argv("capture-pane", "-p", "-t", "bench"), capture_output=True, text=True
        )
        return out.stdout

    def kill(self) -> None:
        """Kill the server, and remove its socket file (tmux leaves it behind)."""
        path = self.query("#{socket_path}")
        subprocess.run(self.argv("kill-server"), capture_output=True, check=False)
        if path:
            Path(path).unlink(missing_ok=True)


def session_state(db: Path) -> tuple[str, str] | None:
    """(id, status) of the data dir's one session, None before there is one."""
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT id, status FROM sessions").fetchone()
    except sqlite3.Error:  # the schema is being created
        return None
    finally:
        conn.close()
    if row is None:
        return None
    return str(row[0]), str(row[1])


def run_app(
    size: tuple[int, int],
    data: Path,
    url: str,
    concurrency: int,
    tag: str,
    source: Path | None = None,
) -> Crawl:
    """The installed app in a tmux terminal of `size`, until its crawl has stopped; with
    `source`, the tui_scraper package of that checkout (first on PYTHONPATH, for the app and
    the worker it starts)."""
    columns, rows = size
    config = data.with_name(data.name + "-config")
    config.mkdir(parents=True)
    command = [
        *["env", "-u", "COLUMNS", "-u", "LINES", "TERM=xterm-256color"],
        f"TUI_SCRAPER_DATA_DIR={data}",
        f"TUI_SCRAPER_CONFIG_DIR={config}",
        *([f"PYTHONPATH={source}"] if source is not None else []),
        *tui_scraper(),
        *crawl_args(url, concurrency),
    ]
    tmux = Tmux(f"bench-tui-{os.getpid()}-{tag}")
    new_session = ["-f", "/dev/null", "new-session", "-d", "-s", "bench"]
    new_session += ["-x", str(columns), "-y", str(rows), f"exec {shlex.join(command)}"]
    crawl = Crawl(f"app {columns}x{rows}" + (" @" if source is not None else ""))
    try:
        measured = start_measured(tmux.argv(*new_session))
        if measured.returned[1] != 0:
            measured.take("FAILED")
            raise SystemExit(f"bench_tui: tmux did not start: {measured.failure}")
        app_pid = int(tmux.query("#{pane_pid}"))
        server_pid = int(tmux.query("#{pid}"))
        deadline = time.monotonic() + CRAWL_TIMEOUT_S
        found = None
        started_cpu: float | None = None
        while found is None:
            if time.monotonic() > deadline:
                screen = tmux.screen()
                raise SystemExit(f"bench_tui: the app's crawl did not stop; screen:\n{screen}")
            time.sleep(POLL_S)  # a polling period: the condition is the session's state
            state = session_state(data / "scraper.db")
            if state is not None and started_cpu is None and state[1] != "pending":
                started_cpu = proctree.cpu_seconds(app_pid)  # the app's start-up, done
            found = state if state is not None and state[1] in STOPPED else None
        crawl.app_cpu_s = proctree.cpu_seconds(app_pid)
        crawl.app_crawl_cpu_s = crawl.app_cpu_s - (started_cpu or 0.0)
        crawl.tmux_cpu_s = proctree.cpu_seconds(server_pid)
    finally:
        tmux.kill()
    crawl.tree_cpu_s = float(measured.take("CPU", timeout=60.0))
    return finish(crawl, data, found[0])


def parse_size(text: str) -> tuple[int, int]:
    columns, _, rows = text.partition("x")
    try:
        size = int(columns), int(rows)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size like 80x24: {text!r}") from None
    if not (20 <= size[0] <= 500 and 5 <= size[1] <= 200):
        raise argparse.ArgumentTypeError(f"not a terminal size: {text!r}")
    return size


def _each(values: list[float], digits: int) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(rounds: list[dict[str, Crawl]], modes: list[str]) -> None:
    median = statistics.median
    print(
        f"{'mode':>12} {'pages/s':>8} {'time / headless':>16} {'tree CPU':>9} {'app CPU':>8} "
        f"{'tmux CPU':>9} {'worker CPU':>11} {'app running':>12} {'ms/s':>6}   "
        "(median; CPU in ms/page, app running also in ms per second of crawl; each round in "
        "brackets)"
    )
    for mode in modes:
        crawls = [r[mode] for r in rounds]
        rates = [c.rate for c in crawls]
        ratios = [c.seconds / r["headless"].seconds for c, r in zip(crawls, rounds, strict=True)]
        tree = [c.ms_per_page(c.tree_cpu_s) for c in crawls]
        app = [c.ms_per_page(c.app_cpu_s) for c in crawls]
        tmux = [c.ms_per_page(c.tmux_cpu_s) for c in crawls]
        # The rest of the tree: the worker and its parse processes (and the app's exit).
        worker = [t - a - x for t, a, x in zip(tree, app, tmux, strict=True)]
        running = [c.ms_per_page(c.app_crawl_cpu_s) for c in crawls]
        # The screen's work is paced by the clock, not by pages: per second of crawl too.
        per_s = [c.app_crawl_cpu_s / c.seconds * 1000 if c.seconds else 0.0 for c in crawls]
        is_app = mode.startswith("app")
        line = f"{mode:>12} {median(rates):>8.0f} {median(ratios):>16.3f} {median(tree):>9.2f} "
        each = f"{'':>12} {_each(rates, 0)} {_each(ratios, 3)} tree {_each(tree, 2)}"
        if is_app:
            line += f"{median(app):>8.2f} {median(tmux):>9.2f} "
            line += f"{median(worker):>11.2f} {median(running):>12.2f} {median(per_s):>6.1f}"
            each += f" app {_each(app, 2)} tmux {_each(tmux, 2)} worker {_each(worker, 2)}"
            each += f" app running {_each(running, 2)} = ms/s {_each(per_s, 1)}"
        print(line)
        print(each)
    for mode in modes:
        if mode.startswith("app"):
            ratios = [r[mode].seconds / r["detached"].seconds for r in rounds]
            print(
                f"{mode} / detached (the screen alone), same round: median "
                f"{median(ratios):.3f} {_each(ratios, 3)}"
            )


def tmux_mode(args: argparse.Namespace) -> None:
    if shutil.which("tmux") is None:
        raise SystemExit("bench_tui: tmux is not installed (or use --run-test)")
    from run import serve  # the benchmark runner's server
    from sitegen import generate

    load_before = _load()
    site = args.out / "site"
    generate(site, args.pages)
    apps = {f"app {w}x{h}": ((w, h), None) for w, h in args.sizes}
    if args.compare is not None:
        apps.update({f"app {w}x{h} @": ((w, h), args.compare) for w, h in args.sizes})
    modes = ["headless", "detached", *apps]
    # Data dirs under the system's temp dir: a worker's socket path must stay short.
    work = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    rounds: list[dict[str, Crawl]] = []
    try:
        with serve(site, args.server, args.out) as server:
            print(f"site: {args.pages} pages served by {server.kind} at {server.url}")
            url, c = server.url, args.concurrency
            run_cli("headless", work / "warm-up", url, c)  # page cache, bytecode
            for n in range(args.rounds):
                done: dict[str, Crawl] = {}
                for mode in modes[n % len(modes) :] + modes[: n % len(modes)]:
                    data = work / f"r{n}-{modes.index(mode)}"
                    if mode in apps:
                        size, source = apps[mode]
                        tag = f"{n}-{modes.index(mode)}"
                        crawl = run_app(size, data, url, c, tag, source)
                    else:
                        crawl = run_cli(mode, data, url, c)
                    done[mode] = crawl
                    print(
                        f"  round {n + 1}  {mode:>12}  {crawl.seconds:6.2f} s  "
                        f"{crawl.rate:5.0f} pages/s  {crawl.status}  tree CPU "
                        f"{crawl.ms_per_page(crawl.tree_cpu_s):.2f} ms/page",
                        flush=True,
                    )
                    shutil.rmtree(data, ignore_errors=True)
                rounds.append(done)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.pages} pages, concurrency {args.concurrency}, {args.rounds} rounds")
    print(f"load average before: {load_before}, after: {_load()} (1, 5, 15 min)")
    if args.compare is not None:
        print(f"app ... @: the app of {args.compare}")
    report(rounds, modes)
    if args.json:
        Path(args.json).write_text(
            json.dumps([{m: asdict(c) for m, c in r.items()} for r in rounds], indent=1)
        )


# -- the old mode: the app under App.run_test (renders to no terminal) -----------------------

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


def run_test_child(mode: str, url: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(CHILD)
        out = subprocess.run(
            [PY, str(script), mode, url, str(Path(tmp) / "data")],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{mode} crawl failed:\n{out.stderr[-2000:]}")
        return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def run_test_mode(args: argparse.Namespace) -> None:
    from run import serve
    from sitegen import generate

    site = args.out / "site"
    generate(site, args.pages)
    with serve(site, args.server, args.out) as server:
        print(f"site: {args.pages} pages served by {server.kind} at {server.url}")
        times: dict[str, list[float]] = {"headless": [], "live": []}
        run_test_child("headless", server.url)  # warm-up: page cache, bytecode
        for round_no in range(args.rounds):
            order = ["headless", "live"] if round_no % 2 == 0 else ["live", "headless"]
            for mode in order:
                seconds = run_test_child(mode, server.url)
                times[mode].append(seconds)
                print(
                    f"  round {round_no + 1}  {mode:8}  {seconds:6.1f} s  "
                    f"{args.pages / seconds:6.0f} pages/s",
                    flush=True,
                )
    head = statistics.median(times["headless"])
    live = statistics.median(times["live"])
    print(
        f"headless median {args.pages / head:.0f} pages/s; live screen (run_test) median "
        f"{args.pages / live:.0f} pages/s; the live screen costs "
        f"{(1 - head / live) * 100:.1f} % of headless throughput"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(part) for part in text.split(",")],
        default=[(80, 24), (120, 40)],
        help="terminal sizes of the app modes, e.g. 80x24,120x40",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        help="also run the app modes with the tui_scraper package of this checkout (a "
        "directory holding tui_scraper/, e.g. from `git archive`), in the same rounds",
    )
    parser.add_argument("--json", help="also write every crawl's figures to this file")
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "out",
        help="where the site, the server's files and scratch dirs go (default: benchmarks/out)",
    )
    parser.add_argument(
        "--run-test",
        action="store_true",
        help="the old measure: the app in-process under App.run_test (renders to no terminal)",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.pages < 1:
        parser.error("--rounds and --pages must be at least 1")
    if args.compare is not None:
        args.compare = args.compare.resolve()
        if not (args.compare / "tui_scraper" / "__init__.py").is_file():
            parser.error(f"--compare {args.compare}: no tui_scraper package there")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    (run_test_mode if args.run_test else tmux_mode)(args)


if __name__ == "__main__":
    main()
