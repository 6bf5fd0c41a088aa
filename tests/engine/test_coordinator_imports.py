"""The coordinator of a crawl with fetch workers loads no HTTP client and no parser.

A crawl's own process claims, gates, judges and commits; its fetch workers fetch, parse and
store, robots.txt included (`FetchPool.fetch_robots`). Each crawl here is the real headless CLI
in a fresh interpreter with its default two fetch workers, against a real site on 127.0.0.1;
the interpreter reports the modules it loaded once the crawl has ended. robots.txt's rules must
apply exactly as when the coordinator fetched the file itself: behind a redirect, missing (404:
allow all), failing (5xx: nothing crawled there for now) and huge (only the first 500 KiB).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from .invariants import assert_store_invariants, connect_ro, page_states
from .site import SiteServer, generated_site, page_html

# What only a process that fetches or parses needs (httpx pulls in httpcore).
CLIENT_AND_PARSER = ("aiohttp", "httpx", "httpcore", "httpx_aiohttp", "selectolax")
RULES = "User-agent: *\nDisallow: /secret/\n"


def _crawl(data_dir: Path, url: str, *args: str) -> tuple[object, list[str]]:
    """`crawl URL --headless` in this fresh interpreter: (exit code, the banned modules loaded)."""
    argv = ["--data-dir", str(data_dir), "crawl", url, "--headless", *args]
    code = (
        "import json, sys\n"
        "from tui_scraper.cli import main\n"
        "try:\n"
        f"    result = main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    result = exc.code\n"
        f"banned = {CLIENT_AND_PARSER!r}\n"
        "hit = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "print(json.dumps([result, hit]), file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    result, hit = json.loads(out.stderr.strip().splitlines()[-1])
    return result, hit


def _site_pages() -> dict[str, str]:
    pages = generated_site(12, filler=2)
    pages["/"] = pages["/"].replace(
        "</body>", '<a href="/secret/a.html">a</a><a href="/deep/b.html">b</a></body>'
    )
    pages["/secret/a.html"] = page_html("Secret", [])
    pages["/deep/b.html"] = page_html("Deep", [])
    return pages


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[SiteServer], SiteServer]]:
    servers: list[SiteServer] = []

    def start(server: SiteServer) -> SiteServer:
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def _error_details(data_dir: Path, url: str) -> str:
    db = connect_ro(data_dir)
    try:
        row = db.execute("SELECT error_details FROM pages WHERE url = ?", (url,)).fetchone()
    except sqlite3.Error:
        return ""
    finally:
        db.close()
    return str(row[0]) if row else ""


def test_the_coordinator_of_a_two_worker_crawl_never_loads_the_client_or_parser(
    tmp_path: Path, serve: Callable[[SiteServer], SiteServer]
) -> None:
    site = serve(SiteServer(_site_pages(), robots=RULES))
    data = tmp_path / "d"
    result, hit = _crawl(data, f"{site.base}/", "--concurrency", "4")
    assert result == 0
    assert hit == []
    states = page_states(data)
    assert states[f"{site.base}/secret/a.html"] == "skipped"  # the rules, fetched by a worker
    assert states[f"{site.base}/deep/b.html"] == "done"
    assert sum(1 for state in states.values() if state == "done") == 13
    hits = site.hits()
    assert hits["/robots.txt"] == 1 and "/secret/a.html" not in hits
    assert_store_invariants(data)


def test_robots_behind_a_redirect_still_rules(
    tmp_path: Path, serve: Callable[[SiteServer], SiteServer]
) -> None:
    def moved(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=301, headers={"Location": "/rules.txt"})

    def rules(_request: web.Request) -> web.StreamResponse:
        return web.Response(text=RULES, content_type="text/plain")

    site = serve(SiteServer(_site_pages(), extra={"/robots.txt": moved, "/rules.txt": rules}))
    data = tmp_path / "d"
    result, hit = _crawl(data, f"{site.base}/")
    assert (result, hit) == (0, [])
    states = page_states(data)
    assert states[f"{site.base}/secret/a.html"] == "skipped"
    assert states[f"{site.base}/deep/b.html"] == "done"
    assert site.hits()["/rules.txt"] == 1


def test_a_missing_robots_txt_allows_everything(
    tmp_path: Path, serve: Callable[[SiteServer], SiteServer]
) -> None:
    site = serve(SiteServer(_site_pages()))  # /robots.txt answers 404
    data = tmp_path / "d"
    result, hit = _crawl(data, f"{site.base}/")
    assert (result, hit) == (0, [])
    states = page_states(data)
    assert states[f"{site.base}/secret/a.html"] == "done"
    assert site.hits()["/robots.txt"] == 1


def test_a_failing_robots_txt_holds_the_site_back(
    tmp_path: Path, serve: Callable[[SiteServer], SiteServer]
) -> None:
    def down(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, text="down")

    site = serve(SiteServer(_site_pages(), extra={"/robots.txt": down}))
    data = tmp_path / "d"
    result, hit = _crawl(data, f"{site.base}/", "--retries", "0")
    assert hit == []
    assert result != 0  # the seed could not be crawled: nothing was
    states = page_states(data)
    assert states == {f"{site.base}/": "failed"}
    assert "robots.txt answered HTTP 503" in _error_details(data, f"{site.base}/")
    assert set(site.hits()) == {"/robots.txt"}  # not one page was asked for


def test_a_huge_robots_txt_is_read_up_to_the_cap(
    tmp_path: Path, serve: Callable[[SiteServer], SiteServer]
) -> None:
    # A rule past the first 500 KiB is never read: /deep/ stays allowed.
    huge = RULES + "# padding\n" * 60_000 + "Disallow: /deep/\n"
    assert len(huge) > 500 * 1024
    site = serve(SiteServer(_site_pages(), robots=huge))
    data = tmp_path / "d"
    result, hit = _crawl(data, f"{site.base}/")
    assert (result, hit) == (0, [])
    states = page_states(data)
    assert states[f"{site.base}/secret/a.html"] == "skipped"
    assert states[f"{site.base}/deep/b.html"] == "done"
