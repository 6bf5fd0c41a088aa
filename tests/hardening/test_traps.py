"""T17 end to end: crawler traps end by themselves within the limits, session ids stripped.

One site holds an infinite calendar (/cal?month=N links to N+1), pages whose every link carries a
fresh random sid=, an ever-growing /a/a/a/… path, and a page with 10 000 links.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from engine.invariants import assert_store_invariants
from engine.site import SiteServer, page_html

from .conftest import assert_clean_stderr, cli, only_session, pages


def _calendar(request: web.Request) -> web.Response:
    month = int(request.query.get("month", "0"))
    links = [f"/cal?month={month + 1}", f"/cal?month={month - 1}"]
    return web.Response(text=page_html(f"Month {month}", links), content_type="text/html")


def _session_ids(request: web.Request) -> web.Response:
    n = int(request.path.rsplit("/", 1)[1])
    links = [f"/s/{(n + k) % 20}?sid={secrets.token_hex(8)}" for k in range(1, 4)]
    links.append(f"/s/{n}?PHPSESSID={secrets.token_hex(8)}&utm_source=x")
    return web.Response(text=page_html(f"S {n}", links), content_type="text/html")


def _growing(request: web.Request) -> web.Response:
    # A relative link to "a/" from /a/a/…/ makes the path one segment longer every time.
    return web.Response(text=page_html("A", ["a/", "./a/b"]), content_type="text/html")


def _build() -> SiteServer:
    site = {
        "/": page_html("Root", ["/cal?month=0", "/s/0?sid=abc", "/a/", "/many"]),
        "/many": page_html("Many", [f"/m/{i}" for i in range(10_000)]),
    }
    server = SiteServer(site)
    server.extra["/cal"] = _calendar
    for i in range(20):
        server.extra[f"/s/{i}"] = _session_ids
    original = server._handle

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/a/"):
            with server._lock:
                server.log.append(request.path_qs)
            return _growing(request)
        if request.path.startswith("/m/"):
            with server._lock:
                server.log.append(request.path_qs)
            return web.Response(text=page_html(request.path, []), content_type="text/html")
        return await original(request)

    server._handle = handle  # type: ignore[method-assign]
    return server


def test_crawler_traps_bounded(tmp_path: Path) -> None:
    server = _build().start()
    data = tmp_path / "d"
    max_pages, max_depth = 400, 30
    try:
        t0 = time.monotonic()
        result = cli(
            data,
            "crawl",
            server.base + "/",
            "--headless",
            "--concurrency",
            "8",
            "--per-host",
            "8",
            "--max-pages",
            str(max_pages),
            "--max-depth",
            str(max_depth),
            timeout=90,
        )
        took = time.monotonic() - t0
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        assert took < 60, took
        assert only_session(data)[1] == "completed"
        rows = pages(data)
        done = [u for u, (s, _e) in rows.items() if s == "done"]
        assert len(done) <= max_pages
        # Limits, not luck, ended it: the calendar never got past max-depth.
        months = [int(m) for u in rows for m in re.findall(r"month=(-?\d+)", u)]
        assert months and max(abs(m) for m in months) <= max_depth + 1
        # Session ids and tracking parameters are stripped: 20 sid pages, stored once each.
        assert not any(re.search(r"(sid|PHPSESSID|utm_source)=", u, re.I) for u in rows)
        sid_pages = {urlsplit(u).path for u in rows if urlsplit(u).path.startswith("/s/")}
        assert len([u for u in rows if urlsplit(u).path.startswith("/s/")]) == len(sid_pages)
        # /a/a/a/… stops at the repeated-segment rule, long before the depth limit.
        a_paths = [urlsplit(u).path for u in rows if urlsplit(u).path.startswith("/a/")]
        assert a_paths and max(p.count("a/") for p in a_paths) <= 3, sorted(a_paths)[-3:]
        a_hits = [p for p in server.log if p.startswith("/a/")]
        assert max(p.count("a/") for p in a_hits) <= 3
        # Every page the crawler requested is one it stored (nothing fetched behind the limits).
        fetched = {p for p in server.log if p != "/robots.txt"}
        assert len(fetched) <= max_pages + 5
        skipped = [e["kind"] for (s, e) in rows.values() if s == "skipped" and e]
        print(f"{len(done)} done in {took:.1f} s; skipped kinds: {sorted(set(skipped))}")
        assert_store_invariants(data)
    finally:
        server.stop()
