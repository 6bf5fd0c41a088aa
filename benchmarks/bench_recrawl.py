"""A full crawl against a recrawl of it (every page unchanged, answered 304): CPU per page.

    python benchmarks/bench_recrawl.py [--pages 2000] [--rounds 3] [--db URL]

A site of --pages HTML pages (about 20 KB each) answers like nginx for static files: ETag and
Last-Modified on every page, 304 when If-None-Match names the current ETag. Each round runs
`crawl URL --headless` then `recrawl ID --headless` in child processes, interleaved, and reads
the CPU of each command's whole process tree (user + sys, exact: proctree.py's measure
child reaps every descendant) and its wall time. The server runs on a thread of this process,
so its CPU is not counted. Prints per round and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import proctree  # noqa: E402

FILLER = "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 330


def site_pages(count: int) -> dict[str, bytes]:
    pages: dict[str, bytes] = {}
    for i in range(count):
        path = "/" if i == 0 else f"/p/{i}.html"
        # The next page, then a few others: every page is reachable from "/".
        targets = [(i + 1) % count or 1, *((i * 7 + k) % count or 1 for k in range(1, 8))]
        links = "".join(f'<a href="/p/{t}.html">l{n}</a>' for n, t in enumerate(targets))
        pages[path] = (
            f"<!doctype html><html><head><title>Page {i}</title></head>"
            f"<body><h1>Page {i}</h1><p>{FILLER}</p>{links}</body></html>"
        ).encode()
    return pages


class Site:
    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.stamp = formatdate(1_700_000_000, usegmt=True)
        self.sent = 0
        self.not_modified = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = self.pages.get(request.path)
        if body is None:
            return web.Response(status=404)
        etag = f'"{len(body):x}-{hash(request.path) & 0xFFFF:x}"'
        headers = {"ETag": etag, "Last-Modified": self.stamp}
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers=headers)
        self.sent += len(body)
        return web.Response(body=body, content_type="text/html", headers=headers)

    def start(self) -> Site:
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        tcp = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        loop.run_until_complete(tcp.start())
        server = tcp._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class Run:
    kind: str
    cpu_s: float
    wall_s: float
    pages: int
    session_id: str
    body_bytes: int  # what the server sent in bodies for this run

    @property
    def cpu_ms_per_page(self) -> float:
        return self.cpu_s * 1000 / max(self.pages, 1)


def run_cli(data: Path, db: list[str], *args: str) -> tuple[str, float, float]:
    """(stdout's first line, CPU seconds of the command's whole process tree, wall seconds).

    Through proctree's measure child (a subreaper): the fetch workers and their forkserver are
    reaped there too, so their CPU is in the figure, each process counted once."""
    argv = [sys.executable, "-m", "tui_scraper", "--data-dir", str(data), *db, *args]
    child = subprocess.Popen(
        proctree.measure_argv([*argv, "--headless"]), stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    measured = proctree.Measured()
    measured.follow(child.stdout)
    wall, code, _own = measured.returned
    if code != 0:
        raise SystemExit(f"{' '.join(args)} failed: {measured.failure}")
    out = measured.stdout
    cpu = measured.cpu_s
    child.wait()
    return out.strip().splitlines()[0], cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", help="a PostgreSQL URL (default: SQLite in a temp data dir)")
    args = parser.parse_args()
    site = Site(site_pages(args.pages)).start()
    db = ["--db", args.db] if args.db else []
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-recrawl-") as tmp:
            data = Path(tmp)
            url = f"http://127.0.0.1:{site.port}/"
            for round_no in range(1, args.rounds + 1):
                sent = site.sent
                first, cpu, wall = run_cli(data, db, "crawl", url, "--concurrency", "16")
                runs.append(Run("crawl", cpu, wall, args.pages, first, site.sent - sent))
                before, sent = site.not_modified, site.sent
                second, cpu, wall = run_cli(data, db, "recrawl", first)
                runs.append(Run("recrawl", cpu, wall, args.pages, second, site.sent - sent))
                answered = site.not_modified - before
                print(
                    f"round {round_no}: crawl {runs[-2].cpu_ms_per_page:.2f} ms CPU/page "
                    f"({runs[-2].wall_s:.1f} s), recrawl {runs[-1].cpu_ms_per_page:.2f} ms "
                    f"CPU/page ({runs[-1].wall_s:.1f} s, {answered} answered 304)",
                    flush=True,
                )
    finally:
        site.stop()
    for kind in ("crawl", "recrawl"):
        mine = [r for r in runs if r.kind == kind]
        cpu = statistics.median(r.cpu_ms_per_page for r in mine)
        wall = statistics.median(r.wall_s for r in mine)
        sent = statistics.median(r.body_bytes for r in mine) / 1024
        print(
            f"{kind:8} median {cpu:.2f} ms CPU per page, {wall:.1f} s wall, "
            f"{sent:,.0f} KiB of bodies sent, {args.pages} pages"
        )


if __name__ == "__main__":
    main()
