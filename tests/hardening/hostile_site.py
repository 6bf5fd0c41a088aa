"""A site with one hostile page of each kind next to ordinary pages (T12, T13, T19 end to end)."""

from __future__ import annotations

import asyncio
import gzip
import os
import threading
from collections.abc import Callable
from functools import cache

import brotli
import zstandard
from aiohttp import web
from engine.site import Handler, SiteServer, generated_site, page_html

BOMB_DECODED = 32 * 1024 * 1024  # 8x the 4 MiB cap the tests use
CAP = 4 * 1024 * 1024
N_NORMAL = 60

# lexbor/lexbor#340: n=2000 took 8.4 s, the cost grows ~n^3, so n=3000
# runs far past the crawler's parse deadline.
LEXBOR_340 = (
    "".join(f"<b {i}>" for i in range(3000))
    + "".join(f"<i {i}>" for i in range(3000))
    + "x</b>" * 3000
).encode()
BINARY = bytes(range(256)) * 400 + os.urandom(50_000)

# path -> what must become of it: ("failed" | "skipped" | "done", error kinds accepted)
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "/bomb-gzip": ({"failed"}, {"too_large"}),
    "/bomb-br": ({"failed"}, {"too_large"}),
    "/bomb-zstd": ({"failed"}, {"too_large"}),
    "/bomb-stacked": ({"failed"}, {"encoding"}),
    "/endless": ({"failed"}, {"too_large"}),
    "/drip": ({"failed"}, {"timeout"}),
    "/binary": ({"done", "failed", "skipped"}, {"content_type", "parse_timeout"}),
    "/slow-html": ({"failed"}, {"parse_timeout"}),
}


@cache
def _bombs() -> dict[str, tuple[bytes, str]]:
    zeros = bytes(BOMB_DECODED)
    gz = gzip.compress(zeros, 6)
    return {
        "/bomb-gzip": (gz, "gzip"),
        "/bomb-br": (brotli.compress(zeros, quality=5), "br"),
        "/bomb-zstd": (zstandard.ZstdCompressor(level=3).compress(zeros), "zstd"),
        "/bomb-stacked": (gzip.compress(gzip.compress(zeros, 6), 6), "gzip, gzip"),
    }


class HostileSite:
    """The server plus what it saw: bytes sent per hostile path (did the client hang up?)."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self._lock = threading.Lock()
        site = generated_site(N_NORMAL)
        links = "".join(f'<a href="{p}">{p}</a>' for p in EXPECTED)
        site["/"] = site["/"].replace("</body>", links + "</body>")
        extra: dict[str, Handler] = {p: self._bomb(p) for p in _bombs()}
        extra["/endless"] = self._endless
        extra["/drip"] = self._drip
        extra["/binary"] = lambda _r: web.Response(body=BINARY, content_type="text/html")
        extra["/slow-html"] = lambda _r: web.Response(body=LEXBOR_340, content_type="text/html")
        self.server = SiteServer(site, extra=extra)
        self.normal = {("/" if i == 0 else f"/p/{i}.html") for i in range(N_NORMAL)}

    def start(self) -> HostileSite:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def base(self) -> str:
        return self.server.base

    def _count(self, path: str, n: int) -> None:
        with self._lock:
            self.sent[path] = self.sent.get(path, 0) + n

    def _bomb(self, path: str) -> Callable[[web.Request], web.Response]:
        body, coding = _bombs()[path]

        def handler(_request: web.Request) -> web.Response:
            self._count(path, len(body))
            return web.Response(
                body=body, headers={"Content-Type": "text/html", "Content-Encoding": coding}
            )

        return handler

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b"<p>" + b"x" * 65_536 + b"</p>"
        try:
            for _ in range(16_000):  # ~1 GB at most: bounded even if the client never hangs up
                await resp.write(chunk)
                self._count("/endless", len(chunk))
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def _drip(self, request: web.Request) -> web.StreamResponse:
        body = page_html("Drip", []).encode()
        resp = web.StreamResponse(
            headers={"Content-Type": "text/html", "Content-Length": str(len(body))}
        )
        await resp.prepare(request)
        try:
            for i in range(len(body)):
                await resp.write(body[i : i + 1])
                self._count("/drip", 1)
                await asyncio.sleep(0.3)
        except (ConnectionError, RuntimeError):
            pass
        return resp
