"""The demo site answers conditional requests as nginx does for static files, so `demo` and then
`recrawl ID` shows 304s: real HTTP against the real server, and the real CLI in child processes
(`demo --headless`, then `recrawl --headless`, each serving the site on the session's port)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx

from tests.engine.conftest import cli
from tui_scraper.demo import FLAKY_PATH, PDF_PATH, PNG_PATH, SLOW_PATH, DemoServer, expected_pages
from tui_scraper.demo.conditional import LAST_MODIFIED, etag_of
from tui_scraper.demo.session import DEMO_DOWNLOADS

EARLIER = "Fri, 31 May 2024 23:59:59 GMT"
LATER = "Sun, 02 Jun 2024 00:00:00 GMT"


async def test_every_resource_has_validators_and_a_matching_condition_gets_304() -> None:
    server = DemoServer(slow_seconds=0.2)
    # One `async with`, entered in order: the client's base URL is read once the server listens.
    async with server, httpx.AsyncClient(base_url=str(server.base_url)) as client:
        for path in ("/", PDF_PATH, "/robots.txt", "/sitemap.xml"):
            full = await client.get(path)
            assert full.status_code == 200, path
            tag = full.headers["etag"]
            assert tag == etag_of(full.content), path  # strong: a hash of the bytes
            assert full.headers["last-modified"] == LAST_MODIFIED
            same = await client.get(path, headers={"If-None-Match": tag})
            assert (same.status_code, same.content) == (304, b""), path
            assert same.headers["etag"] == tag
            assert same.headers["last-modified"] == LAST_MODIFIED
        home = (await client.get("/")).headers["etag"]

        async def status(path: str = "/", **headers: str) -> int:
            return (await client.get(path, headers=headers)).status_code

        # If-None-Match: a list, a weak form of the tag, `*`; another tag is a full answer.
        assert await status(**{"If-None-Match": f'"other", {home}'}) == 304
        assert await status(**{"If-None-Match": f"W/{home}"}) == 304
        assert await status(**{"If-None-Match": "*"}) == 304
        assert await status(**{"If-None-Match": '"other"'}) == 200
        # Another page's tag is not this page's.
        assert await status(PDF_PATH, **{"If-None-Match": home}) == 200
        # If-Modified-Since: not older than Last-Modified is 304; older or not a date is 200.
        assert await status(**{"If-Modified-Since": LAST_MODIFIED}) == 304
        assert await status(**{"If-Modified-Since": LATER}) == 304
        assert await status(**{"If-Modified-Since": EARLIER}) == 200
        assert await status(**{"If-Modified-Since": "yesterday"}) == 200
        # With If-None-Match present, If-Modified-Since is not looked at.
        both = {"If-None-Match": '"other"', "If-Modified-Since": LATER}
        assert await status(**both) == 200
        head = await client.head("/", headers={"If-None-Match": home})
        assert head.status_code == 304
        # A page that does not exist has no validators.
        missing = await client.get("/no/such/page.html", headers={"If-None-Match": "*"})
        assert missing.status_code == 404 and "etag" not in missing.headers


async def test_the_flaky_and_the_slow_page_keep_their_behaviours_when_asked_conditionally() -> None:
    server = DemoServer(slow_seconds=0.3)
    async with server, httpx.AsyncClient(base_url=str(server.base_url), timeout=30) as client:
        anything = {"If-None-Match": "*"}
        assert (await client.get(FLAKY_PATH, headers=anything)).status_code == 500
        assert (await client.get(FLAKY_PATH, headers=anything)).status_code == 304
        started = asyncio.get_running_loop().time()
        slow = await client.get(SLOW_PATH, headers=anything)
        assert slow.status_code == 304
        assert asyncio.get_running_loop().time() - started >= 0.3


def _pages(data: Path, session_id: str) -> dict[str, tuple[str, int | None, str | None]]:
    db = sqlite3.connect(f"file:{data / 'scraper.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT url, status, http_status, content_hash FROM pages WHERE session_id = ?",
            (session_id,),
        )
        return {url: (status, code, sha) for url, status, code, sha in rows}
    finally:
        db.close()


def test_a_recrawl_of_the_demo_gets_304s_and_still_reaches_every_page(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = cli(data, "demo", "--headless")
    assert demo.returncode == 0, demo.stderr
    (listed,) = json.loads(cli(data, "sessions", "--json").stdout)
    first = json.loads(cli(data, "show", listed["id"], "--json").stdout)
    base = first["target_url"]
    wanted = expected_pages(base, download=DEMO_DOWNLOADS)

    recrawl = cli(data, "recrawl", first["id"], "--headless")
    assert recrawl.returncode == 0, recrawl.stderr
    second = recrawl.stdout.strip().splitlines()[0]
    assert second != first["id"]
    shown = json.loads(cli(data, "show", second, "--json").stdout)
    assert shown["status"] == "completed"
    before, after = _pages(data, first["id"]), _pages(data, second)
    # Every page the first crawl reached, with the same outcome (the status page's 500 retried).
    assert {url: after.get(url, ("missing",))[0] for url in wanted} == wanted
    downloads = {base.rstrip("/") + PDF_PATH, base.rstrip("/") + PNG_PATH}
    html = {u for u, (status, _code, _sha) in before.items() if status == "done"} - downloads
    not_modified = {u for u, (_status, code, _sha) in after.items() if code == 304}
    # Every HTML page was asked conditionally and answered 304 (downloads are asked in full).
    assert not_modified == html
    assert len(not_modified) > 0.9 * len(after)
    for url in not_modified:
        assert after[url][2] == before[url][2]  # the same stored content
    diff = json.loads(cli(data, "diff", first["id"], second, "--json").stdout)
    assert (diff["added"], diff["removed"], diff["changed"]) == ([], [], [])
