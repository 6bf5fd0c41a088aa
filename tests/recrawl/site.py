"""A site whose pages change between two crawls, answering conditional requests the way nginx
does for static files: an ETag of the page's mtime and length, Last-Modified, and 304 when
If-None-Match names the current ETag (or, without it, If-Modified-Since is exactly the
current Last-Modified: nginx's default `if_modified_since exact`)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate

from aiohttp import web

from tests.engine.site import page_html


@dataclass
class StaticPage:
    html: str
    mtime: int

    @property
    def etag(self) -> str:
        return f'"{self.mtime:x}-{len(self.html.encode()):x}"'

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


def linked_site(count: int) -> dict[str, str]:
    """ "/" links to every /p/N.html, and each page to the next: all reachable from "/"."""
    site = {"/": page_html("Home", [f"/p/{i}.html" for i in range(count)])}
    for i in range(count):
        site[f"/p/{i}.html"] = page_html(f"Page {i}", [f"/p/{(i + 1) % count}.html"], 5)
    return site


@dataclass
class ChangingSite:
    pages: dict[str, StaticPage] = field(default_factory=dict)
    host: str = "127.0.0.1"
    # (path, status answered, whether the request was conditional), in order
    log: list[tuple[str, int, bool]] = field(default_factory=list)
    validators: bool = True  # False: an old server that sends neither ETag nor Last-Modified
    redirects: dict[str, str] = field(default_factory=dict)  # path -> where it moved (301)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self._clock = 1_700_000_000

    @classmethod
    def of(cls, html_by_path: dict[str, str]) -> ChangingSite:
        site = cls()
        for path, html in html_by_path.items():
            site.put(path, html)
        return site

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, html: str) -> None:
        """Create or edit a page: a new mtime, as a file written again gets."""
        with self._lock:
            self._clock += 60
            self.pages[path] = StaticPage(html, self._clock)

    def delete(self, path: str) -> None:
        with self._lock:
            del self.pages[path]

    def answers(self) -> Counter[tuple[str, int]]:
        with self._lock:
            return Counter((path, status) for path, status, _ in self.log)

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _answer(self, request: web.Request) -> web.Response:
        if request.path == "/robots.txt":
            return web.Response(status=404)
        if request.path in self.redirects:
            return web.Response(status=301, headers={"Location": self.redirects[request.path]})
        with self._lock:
            page = self.pages.get(request.path)
        if page is None:
            return web.Response(status=404, text="not found")
        headers = {"ETag": page.etag, "Last-Modified": page.last_modified}
        if not self.validators:
            headers = {}
        match = request.headers.get("If-None-Match")
        since = request.headers.get("If-Modified-Since")
        if self.validators and (
            (match is not None and page.etag in [t.strip() for t in match.split(",")])
            or (match is None and since == page.last_modified)
        ):
            return web.Response(status=304, headers=headers)
        return web.Response(
            text=page.html, content_type="text/html", charset="utf-8", headers=headers
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = self._answer(request)
        conditional = "If-None-Match" in request.headers or "If-Modified-Since" in request.headers
        with self._lock:
            self.log.append((request.path, response.status, conditional))
        return response

    def start(self) -> ChangingSite:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test site did not start")
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, self.host, 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
