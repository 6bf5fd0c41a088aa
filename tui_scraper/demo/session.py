"""A demo session brings its own site: the config records where it is served, and whichever
process runs the session (the app, the headless CLI, a background worker) serves it there.

The demo site lives in the process that crawls it. When that process ends (quit, a dropped
terminal, kill -9) the site goes with it, so a resumed demo session would otherwise find nothing
listening and fail every page. The session's config therefore names the loopback address and
port (`extra["demo_site"]`), and `serve_for(config)` — called by `SessionManager.start` before
a run — binds the same port again for as long as that run lasts. If another program took the
port meanwhile, starting says so instead of crawling something else.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..domain.config import CrawlConfig
from ..domain.errors import ScraperError

T = TypeVar("T")

DEMO_KEY = "demo_site"
DEMO_DOWNLOADS = ("image/*", "application/pdf")
# ~270 requests at 9 per second: the app's demo runs ~30 s, long enough to quit while it runs,
# start again and resume by hand. `demo --headless` is not paced.
DEMO_RATE_PER_S = 9.0
_LOOPBACK = ("127.0.0.1", "::1")


class DemoSiteUnavailable(ScraperError):
    """The demo site cannot be served again where the session expects it."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the kernel's choice), for a new demo session."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def demo_config(port: int, *, paced: bool, host: str = "127.0.0.1") -> CrawlConfig:
    """The one config of a demo session, in the app and headless alike (same pages, the PDF and
    the image stored too); only the pace differs."""
    shown = f"[{host}]" if ":" in host else host
    return CrawlConfig(
        target_url=f"http://{shown}:{port}/",
        download=DEMO_DOWNLOADS,
        rate_per_host=DEMO_RATE_PER_S if paced else None,
        extra={DEMO_KEY: {"host": host, "port": port}},
    )


def demo_address(config: CrawlConfig) -> tuple[str, int] | None:
    """(host, port) of a demo session's site, None for any other session."""
    spec: Any = config.extra.get(DEMO_KEY)
    if not isinstance(spec, dict):
        return None
    host, port = spec.get("host"), spec.get("port")
    # Only ever a loopback listener, whatever a config says.
    if host not in _LOOPBACK or not isinstance(port, int) or not 0 < port < 65536:
        return None
    return str(host), port


class ServedSite:
    """The demo site served for one run; `close()` stops it (idempotent)."""

    def __init__(self, stop: Callable[[], None] | None) -> None:
        self._stop = stop

    async def close(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            # stop() joins the server's thread (connections closed, port free): not on the loop.
            await asyncio.to_thread(stop)

    async def serving(self, run: Awaitable[T]) -> T:
        """Await `run` (the crawl) and stop the site when it ends, however it ends."""
        try:
            return await run
        finally:
            await self.close()


async def serve_for(config: CrawlConfig) -> ServedSite:
    """Serve the demo site where a demo session expects it; a no-op for any other session."""
    address = demo_address(config)
    if address is None:
        return ServedSite(None)
    host, port = address
    from .server import start_in_thread  # aiohttp.web only for a process that serves

    try:
        _url, stop = await asyncio.to_thread(start_in_thread, host, port)
    except OSError as exc:
        raise DemoSiteUnavailable(
            f"the demo site cannot listen on {host} port {port} again "
            f"({exc.strerror or exc}): another program uses it; free it and resume"
        ) from exc
    return ServedSite(stop)
