"""A generated test site served on 127.0.0.1 from a background thread, with a request log.

Pages link both ways, with the same targets spelled differently (fragment, query order,
relative vs absolute), so a correct crawler stores each page exactly once.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], "web.StreamResponse | None"]


def page_html(title: str, links: list[str], filler: int = 0) -> str:
    anchors = "\n".join(f'<a href="{href}">link {n}</a>' for n, href in enumerate(links))
    text = ("lorem ipsum dolor sit amet " * filler).strip()
    return (
        f"<!doctype html><html lang=en><head><title>{title}</title>"
        f'<meta name="description" content="about {title}"></head>'
        f"<body><h1>{title}</h1><p>{text}</p>{anchors}</body></html>"
    )


def generated_site(pages: int, *, fanout: int = 6, filler: int = 20) -> dict[str, str]:
    """path -> html for a site whose every page is reachable from "/"."""
    site: dict[str, str] = {}
    for i in range(pages):
        path = "/" if i == 0 else f"/p/{i}.html"
        targets = {(i + 1) % pages, (i * 7 + 3) % pages, (i // 2)} | {
            (i * 13 + k * 31) % pages for k in range(fanout - 3)
        }
        links: list[str] = []
        for n, t in enumerate(sorted(targets)):
            target = "/" if t == 0 else f"/p/{t}.html"
            spelled = [target, f"{target}#frag{n}"]
            if t % 5 == 0 and t:
                spelled.append(f"{t}.html" if i else f"p/{t}.html")  # relative
            links.extend(spelled)
        site[path] = page_html(f"Page {i}", links, filler)
    return site


@dataclass
class SiteServer:
    pages: dict[str, str]
    robots: str | None = None
    extra: dict[str, Handler] = field(default_factory=dict)
    host: str = "127.0.0.1"
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def hits(self) -> Counter[str]:
        with self._lock:
            return Counter(self.log)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        with self._lock:
            self.log.append(path)
        if request.path == "/robots.txt" and request.path not in self.extra:
            if self.robots is None:
                return web.Response(status=404)
            return web.Response(text=self.robots, content_type="text/plain")
        handler = self.extra.get(request.path)
        if handler is not None:
            result = handler(request)
            if asyncio.iscoroutine(result):
                result = await result
            if result is not None:
                return result
        body = self.pages.get(request.path)
        if body is None:
            return web.Response(status=404, text="not found")
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    def start(self) -> SiteServer:
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
        self._runner = runner
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
