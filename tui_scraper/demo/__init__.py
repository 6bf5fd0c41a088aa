"""The built-in demo site: a few hundred deterministic pages served on 127.0.0.1.

`tui-scraper demo` serves it and crawls it, so the first run needs no network.
Use `DemoServer` in async code, `start_in_thread()` from synchronous code, and
`expected_pages(base_url)` to know what a correct crawl stores (its docstring lists
every outcome). No Textual here: the headless CLI imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .site import (
    BROKEN_PATHS,
    DISALLOWED_PREFIX,
    EXTERNAL_URL,
    FLAKY_PATH,
    HOSTILE_PATH,
    HOSTILE_TITLE,
    PDF_PATH,
    PNG_PATH,
    SLOW_PATH,
    SLOW_SECONDS,
    DemoSite,
    build_site,
    canonical,
    disallowed_pages,
    expected_pages,
)

if TYPE_CHECKING:
    from .server import DemoServer, LoggedRequest, start_in_thread

# The server (aiohttp.web) loads on first use: every process that may run a demo session imports
# this package, and most never serve the site.
_SERVER_NAMES = frozenset({"DemoServer", "LoggedRequest", "start_in_thread"})


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BROKEN_PATHS",
    "DISALLOWED_PREFIX",
    "EXTERNAL_URL",
    "FLAKY_PATH",
    "HOSTILE_PATH",
    "HOSTILE_TITLE",
    "PDF_PATH",
    "PNG_PATH",
    "SLOW_PATH",
    "SLOW_SECONDS",
    "DemoServer",
    "DemoSite",
    "LoggedRequest",
    "build_site",
    "canonical",
    "disallowed_pages",
    "expected_pages",
    "start_in_thread",
]
