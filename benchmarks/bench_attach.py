"""Attach benchmark: time from launching `tui-scraper attach ID` in a terminal to the first frame
that shows the worker's live counters.

    python benchmarks/bench_attach.py [--pages 2000] [--rate 20] [--repeat 7]

Generates the benchmark site (sitegen.py), serves it with the fallback static server on
127.0.0.1 (static_server.py, its own process), starts one paced crawl of it with
`crawl URL --detach`, then `--repeat` times opens a fresh tmux terminal (100x30) running
`tui-scraper attach ID` and polls the pane until it shows `RUNNING` and `done N`, the live
screen drawn from the worker's snapshot; the terminal is then closed (the worker crawls on).
Prints the median and every run, plus the time to the app's first frame of any kind. The crawl
is cancelled at the end. Figures only: nothing here asserts a time. Needs tmux.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_worker import _crawl_args, _serve  # noqa: E402
from sitegen import generate  # noqa: E402

from tui_scraper.backends.sqlite.lease import owner_alive  # noqa: E402

PY = sys.executable
CLI = [PY, "-m", "tui_scraper"]
# The installed console script, as a user runs it; `python -m` when there is none beside us.
SCRIPT = Path(PY).parent / "tui-scraper"
ATTACH = [str(SCRIPT)] if SCRIPT.exists() else CLI
LIVE = re.compile(r"RUNNING.*\n(?:.*\n)*?.*done \d+")
HOME = re.compile(r"tui-scraper — Sessions")
POLL_S = 0.005
TIMEOUT_S = 60.0


def _tmux(socket: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True)
    return out.stdout


def attach_once(
    data: Path, session_id: str | None, wanted: re.Pattern[str] = LIVE
) -> tuple[float, float]:
    """(seconds to the first non-blank frame, seconds to the first frame matching `wanted`)
    of `attach ID`, or of the app's home screen when `session_id` is None."""
    socket = f"bench-attach-{uuid.uuid4().hex[:8]}"
    command = ["env", "-u", "COLUMNS", "-u", "LINES", "TERM=xterm-256color", *ATTACH]
    command += ["--data-dir", str(data)]
    command += ["attach", session_id] if session_id else []
    started = time.perf_counter()
    _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "a", "-x", "100", "-y", "30",
          shlex.join(command))  # fmt: skip
    first: float | None = None
    try:
        while time.perf_counter() - started < TIMEOUT_S:
            screen = _tmux(socket, "capture-pane", "-p", "-t", "a")
            now = time.perf_counter() - started
            if first is None and screen.strip():
                first = now
            if wanted.search(screen):
                return first or now, now
            time.sleep(POLL_S)
        raise SystemExit(f"no live frame within {TIMEOUT_S:g} s:\n{screen}")
    finally:
        _tmux(socket, "kill-server")


def _each(values: list[float]) -> str:
    return "(" + ", ".join(f"{v * 1000:.0f}" for v in values) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s: the crawl lasts")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed")
    work = Path(tempfile.mkdtemp(prefix="bench-attach-", dir="/tmp"))
    data = work / "d"
    server = None
    session_id = ""
    try:
        generate(work / "site", args.pages)
        server, url = _serve(work / "site", work / "access.log")
        crawl = [*CLI, "--data-dir", str(data), *_crawl_args(url, 4), "--rate", str(args.rate)]
        out = subprocess.run([*crawl, "--detach"], capture_output=True, text=True, check=True)
        session_id = out.stdout.strip().splitlines()[-1]
        firsts: list[float] = []
        lives: list[float] = []
        for _ in range(args.repeat):
            first, live = attach_once(data, session_id)
            firsts.append(first)
            lives.append(live)
        # The same terminal opening the app's home screen: what starting the app costs anyway.
        homes = [attach_once(data, None, HOME)[1] for _ in range(args.repeat)]
        median = statistics.median
        print(f"attach in tmux ({' '.join(ATTACH[-1:])}), {args.repeat} runs, ms")
        print(f"to the first frame:         median {median(firsts) * 1000:.0f} {_each(firsts)}")
        print(f"to the first live counters: median {median(lives) * 1000:.0f} {_each(lives)}")
        print(f"the app's home screen, for comparison: median {median(homes) * 1000:.0f}")
    finally:
        if session_id:
            subprocess.run(
                [*CLI, "--data-dir", str(data), "cancel", session_id], capture_output=True
            )
            deadline = time.monotonic() + 30
            while owner_alive(data, session_id) and time.monotonic() < deadline:
                time.sleep(0.1)  # the worker's last checkpoint, before its dir goes
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
