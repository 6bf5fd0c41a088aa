"""Serve the demo site on 127.0.0.1 with aiohttp.web — no network beyond loopback.

Two behaviours need state or time and live here rather than in site.py: the slow
page (answers after SLOW_SECONDS) and the status page (500 on its first request to
this server instance, 200 afterwards, so a crawl shows a retry that succeeds).

Every resource is served as nginx serves a static file (conditional.py): with an ETag and a
Last-Modified, and 304 with no body to a request whose conditions say the client has it, so a
recrawl of the demo gets 304s. The two behaviours come first: the status page fails its first
request even when conditional, and the slow page is slow before it answers either way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from .conditional import LAST_MODIFIED, etag_of, not_modified, validators
from .site import (
    FLAKY_PATH,
    SLOW_PATH,
    SLOW_SECONDS,
    DemoSite,
    build_site,
    robots_txt,
    sitemap_xml,
)

_NOT_FOUND = (
    b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
    b"<body><h1>Not Found</h1><p>This page does not exist.</p></body></html>"
)
_ERROR = (
    b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    b"<body><h1>Temporary failure</h1><p>Try again.</p></body></html>"
)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path_qs: str  # path and query exactly as requested
    status: int


class DemoServer:
    """The demo site on an ephemeral loopback port.

    `requests` logs every request (method, path+query, status) so tests can check
    what a crawler fetched, and how often.
    """

    def __init__(self, *, slow_seconds: float = SLOW_SECONDS) -> None:
        self.site: DemoSite = build_site()
        self.slow_seconds = slow_seconds
        self.requests: list[LoggedRequest] = []
        self.base_url: str | None = None
        self._flaky_failed = False
        self._etags: dict[str, str] = {}  # resource key -> its ETag, hashed once
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start listening; return the base URL, e.g. ``http://127.0.0.1:41234/``."""
        if self._runner is not None:
            raise RuntimeError("DemoServer already started")
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: stop() must not wait for the slow page's sleep, and the
        # short shutdown timeout keeps stop() quick while a crawler holds connections.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        self._runner = runner
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.base_url = f"http://{shown}:{bound[1]}/"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening and close connections; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> DemoServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await self._respond(request)
        self.requests.append(LoggedRequest(request.method, request.path_qs, response.status))
        return response

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, HEAD"})
        path = request.path
        base = self.base_url or f"http://{request.host}/"
        if path == "/robots.txt":
            return _static(request, robots_txt(base), "text/plain; charset=utf-8")
        if path == "/sitemap.xml":
            return _static(request, sitemap_xml(base), "application/xml")
        resource = self.site.lookup(path, request.query_string)
        if resource is None:
            return web.Response(status=404, body=_NOT_FOUND, content_type="text/html")
        if path == FLAKY_PATH and not self._flaky_failed:
            self._flaky_failed = True
            return web.Response(status=500, body=_ERROR, content_type="text/html")
        if path == SLOW_PATH:
            await asyncio.sleep(self.slow_seconds)
        etag = self._etags.get(request.path_qs)
        if etag is None:
            etag = self._etags.setdefault(request.path_qs, etag_of(resource.body))
        return _static(request, resource.body, resource.content_type, etag)


def _static(
    request: web.Request, body: bytes, content_type: str, etag: str | None = None
) -> web.Response:
    """`body` with its validators, or 304 (validators, no body) when the request's conditions
    say the client holds these bytes already."""
    headers = validators(body) if etag is None else {"ETag": etag, "Last-Modified": LAST_MODIFIED}
    if not_modified(request.method, request.headers, headers["ETag"], headers["Last-Modified"]):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={**headers, "Content-Type": content_type})


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, *, slow_seconds: float = SLOW_SECONDS
) -> tuple[str, Callable[[], None]]:
    """Serve the demo site from a daemon thread with its own event loop.

    For the CLI: the crawl runs in the main loop while the site answers from this
    thread, so a busy crawler never starves the server (nor the reverse). Returns
    (base_url, stop); stop() is idempotent and returns once the port is closed.
    """
    server = DemoServer(slow_seconds=slow_seconds)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    result: dict[str, str | BaseException] = {}
    stopping: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stopping
        stopping = asyncio.Event()
        try:
            result["url"] = await server.start(host, port)
        except BaseException as exc:  # reported to the caller's thread below
            result["error"] = exc
            ready.set()
            return
        ready.set()
        try:
            await stopping.wait()
        finally:
            await server.stop()

    thread = threading.Thread(
        target=lambda: loop.run_until_complete(main()), name="tui-scraper-demo", daemon=True
    )
    thread.start()
    ready.wait()
    error = result.get("error")
    if isinstance(error, BaseException):
        thread.join()
        loop.close()
        raise error

    def stop() -> None:
        if thread.is_alive() and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
            thread.join()
        if not loop.is_closed() and not thread.is_alive():
            loop.close()

    return str(result["url"]), stop
