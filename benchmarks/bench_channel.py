"""Live channel benchmark: what serving clients costs the worker's publish calls.

    python benchmarks/bench_channel.py [--seconds 3] [--clients 50]

Runs a channel server in this process and calls `publish_progress` (plus an event every 100
calls) as fast as it can for `--seconds`, (1) with no client, (2) with one client reading, and
(3) with `--clients` clients that connect, read the greeting and disconnect in a loop — in a
child process, so the figure is the server's own cost, not the clients' CPU. Prints
publish calls/s for each (as a share of (2): with no client a publish returns at once), the
time spent inside each call (what the worker pays; the rest of the loop's time went to serving
connections), and the connections served.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.runtime.channel.protocol import MAX_SERVER_LINE, Command, Reply
from tui_scraper.runtime.channel.server import ChannelServer

PROGRESS: dict[str, Any] = {
    "pages": 1234,
    "queued": 56789,
    "errors": 3,
    "rate_history": list(range(30)),
    "recent": [{"url": f"http://127.0.0.1/p/{i}", "title": f"Page {i}"} for i in range(10)],
}


async def _handle(command: Command) -> Reply:
    return Reply.accepted()


async def _reader(path: Path, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_unix_connection(os.fspath(path), limit=MAX_SERVER_LINE)
    while not stop.is_set() and await reader.readline():
        pass
    writer.close()


async def _churner(path: Path, stop: asyncio.Event) -> None:
    while not stop.is_set():
        reader, writer = await asyncio.open_unix_connection(os.fspath(path), limit=MAX_SERVER_LINE)
        await reader.readline()  # hello
        await reader.readline()  # snapshot
        writer.close()
        await writer.wait_closed()


async def churn_until_killed(path: Path, clients: int) -> None:
    """The child process of mode (3): churns until the parent terminates it."""
    await asyncio.gather(*(_churner(path, asyncio.Event()) for _ in range(clients)))


async def _publish_for(server: ChannelServer, seconds: float) -> tuple[int, float]:
    """Calls made, and the seconds spent inside them (the rest is the loop serving clients)."""
    calls = 0
    inside = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        batch_started = time.perf_counter()
        for _ in range(100):
            server.publish_progress(PROGRESS)
            calls += 1
        server.publish_event({"kind": "tick", "n": calls})
        inside += time.perf_counter() - batch_started
        await asyncio.sleep(0)  # a worker yields between pages too
    return calls, inside


async def measure(path: Path, seconds: float, clients: int, mode: str) -> tuple[float, float, int]:
    async with ChannelServer(path, lambda: PROGRESS, _handle) as server:
        stop = asyncio.Event()
        tasks = []
        child = None
        if mode == "one reader":
            tasks = [asyncio.create_task(_reader(path, stop))]
        elif mode == "churn":
            child = subprocess.Popen(
                [sys.executable, __file__, "--churn", os.fspath(path), "--clients", str(clients)]
            )
        while server.stats.accepted < (clients if child else len(tasks)):
            await asyncio.sleep(0.01)  # every client connected once before the clock starts
        accepted = server.stats.accepted
        started = time.perf_counter()
        calls, inside = await _publish_for(server, seconds)
        elapsed = time.perf_counter() - started
        served = server.stats.accepted - accepted
        stop.set()
        if child is not None:
            child.terminate()
            await asyncio.to_thread(child.wait)
        await asyncio.gather(*tasks, return_exceptions=True)
        return calls / elapsed, inside / calls * 1e6, served


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--churn", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.churn:
        await churn_until_killed(Path(args.churn), args.clients)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="chb", dir="/tmp"))
    try:
        path = socket_path(data_dir, uuid.uuid4().hex)
        yardstick: float | None = None
        for mode in ("no client", "one reader", "churn"):
            rate, cost, served = await measure(path, args.seconds, args.clients, mode)
            if mode == "one reader":
                yardstick = rate
            share = f"{rate / yardstick:.0%} of one reader" if yardstick else "returns at once"
            label = f"{args.clients} churning" if mode == "churn" else mode
            print(
                f"{label:>14}: {rate:>12,.0f} publish calls/s ({share}), "
                f"{cost:.2f} µs inside each, {served:,} connections served"
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
