"""Pages/s of Fetcher over aiohttp's transport vs httpx's own, same run, same server.

Not collected by pytest (no test_ prefix). Run:
    /work/venv/bin/python tests/fetch/bench_transport.py [--pages 2000] [--concurrency 16]

The server runs in its own process (aiohttp.web, one ~36 KB gzip-able HTML page on every path)
so it does not compete with the client for the event loop; the transports run alternately,
twice each, and the best run of each is reported with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx

from tui_scraper.engine.fetch import Fetcher

SERVER = r"""
import sys
from aiohttp import web
body = (b"<!doctype html><html><head><title>bench</title></head><body>"
        + b"".join(b'<p><a href="/p%d">link %d</a> lorem ipsum dolor sit amet</p>' % (i, i)
                   for i in range(560)) + b"</body></html>")
async def page(request):
    return web.Response(body=body, content_type="text/html", charset="utf-8")
app = web.Application()
app.router.add_get("/{tail:.*}", page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_up(port: int) -> None:
    for _ in range(100):
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("bench server did not start")


async def run(kind: str, port: int, pages: int, concurrency: int) -> tuple[float, int]:
    transport = None
    if kind == "httpx":
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        )
    fetcher = Fetcher(
        concurrency=concurrency,
        user_agent="bench/1",
        request_timeout=30,
        max_body_bytes=10 << 20,
        allow_private=True,
        transport=transport,
    )
    queue = iter(range(pages))
    size = 0

    def want(ctype: str) -> bool:
        return ctype == "text/html"

    def any_url(_u: str) -> str | None:
        return None

    async def worker() -> None:
        nonlocal size
        for i in queue:
            r = await fetcher.fetch(
                f"http://127.0.0.1:{port}/p{i}", url_check=any_url, want_body=want
            )
            size = len(r.body or b"")

    try:
        await fetcher.fetch(f"http://127.0.0.1:{port}/warm", url_check=any_url, want_body=want)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    finally:
        await fetcher.aclose()
    return pages / elapsed, size


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=os.environ.copy())
    try:
        await _wait_up(port)
        best: dict[str, float] = {}
        for rnd in range(args.rounds):
            for kind in ("aiohttp", "httpx") if rnd % 2 == 0 else ("httpx", "aiohttp"):
                rate, size = await run(kind, port, args.pages, args.concurrency)
                print(f"round {rnd + 1} {kind:8s} {rate:7.1f} pages/s  (page {size} B)")
                best[kind] = max(best.get(kind, 0.0), rate)
        print(
            f"best: aiohttp {best['aiohttp']:.1f} pages/s, httpx {best['httpx']:.1f} pages/s, "
            f"ratio {best['aiohttp'] / best['httpx']:.2f}x"
        )
    finally:
        server.terminate()
        server.wait(5)


if __name__ == "__main__":
    asyncio.run(main())
