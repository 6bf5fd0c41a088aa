"""The built-in demo site: served correctly, deterministic, and `expected_pages` tells the truth."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tui_scraper.demo import (
    BROKEN_PATHS,
    DISALLOWED_PREFIX,
    EXTERNAL_URL,
    FLAKY_PATH,
    HOSTILE_PATH,
    PDF_PATH,
    PNG_PATH,
    SLOW_PATH,
    DemoServer,
    build_site,
    canonical,
    disallowed_pages,
    expected_pages,
    start_in_thread,
)
from tui_scraper.demo.assets import pdf_bytes, png_bytes


def _port_closed(base_url: str) -> bool:
    parts = urlsplit(base_url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) != 0


async def test_server_serves_every_kind_of_resource() -> None:
    server = DemoServer()
    base = await server.start()
    assert base.startswith("http://127.0.0.1:") and base.endswith("/")
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            robots = await client.get("/robots.txt")
            assert robots.status_code == 200
            assert robots.headers["content-type"].startswith("text/plain")
            assert f"Disallow: {DISALLOWED_PREFIX}" in robots.text
            assert f"Sitemap: {base}sitemap.xml" in robots.text

            sitemap = await client.get("/sitemap.xml")
            assert sitemap.headers["content-type"].startswith("application/xml")
            done = {u for u, o in expected_pages(base).items() if o == "done"}
            locs = {n.text() for n in HTMLParser(sitemap.text).css("loc")}
            assert locs == done

            home = await client.get("/")
            assert home.headers["content-type"] == "text/html; charset=utf-8"
            assert "<title>" in home.text

            png = await client.get(PNG_PATH)
            assert png.headers["content-type"] == "image/png"
            assert png.content == png_bytes() and png.content.startswith(b"\x89PNG\r\n\x1a\n")
            pdf = await client.get(PDF_PATH)
            assert pdf.headers["content-type"] == "application/pdf"
            assert pdf.content == pdf_bytes() and pdf.content.startswith(b"%PDF-1.4")
            assert pdf.content.rstrip().endswith(b"%%EOF")

            for path in BROKEN_PATHS:
                assert (await client.get(path)).status_code == 404

            # 500 once per server instance, then 200 for good.
            assert (await client.get(FLAKY_PATH)).status_code == 500
            assert (await client.get(FLAKY_PATH)).status_code == 200
            assert (await client.get(FLAKY_PATH)).status_code == 200

            # Both query orders are one page.
            a = await client.get("/search?q=crawler&page=1")
            b = await client.get("/search?page=1&q=crawler")
            assert a.status_code == b.status_code == 200 and a.content == b.content

            started = time.monotonic()
            slow = await client.get(SLOW_PATH, timeout=10)
            assert slow.status_code == 200
            assert time.monotonic() - started >= 1.9

            assert (await client.post("/")).status_code == 405
        statuses = {(r.path_qs, r.status) for r in server.requests}
        assert (FLAKY_PATH, 500) in statuses and (BROKEN_PATHS[0], 404) in statuses
    finally:
        await server.stop()
        await server.stop()  # idempotent
    assert _port_closed(base)


async def test_stop_does_not_wait_for_the_slow_page() -> None:
    server = DemoServer()
    base = await server.start()
    async with httpx.AsyncClient() as client:
        pending = asyncio.ensure_future(client.get(base + SLOW_PATH.lstrip("/"), timeout=10))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 1.5
        with pytest.raises(httpx.HTTPError):
            await pending


def test_start_in_thread_serves_and_stops() -> None:
    base, stop = start_in_thread()
    try:
        response = httpx.get(base + "robots.txt")
        assert response.status_code == 200
    finally:
        stop()
        stop()
    assert _port_closed(base)


def test_pages_are_small_and_deterministic() -> None:
    site = build_site()
    html = {k: r for k, r in site.resources.items() if r.content_type.startswith("text/html")}
    assert 200 <= len(html) <= 600
    assert all(1024 <= len(r.body) <= 5 * 1024 for r in html.values())
    digest = hashlib.sha256()
    for key in sorted(site.resources):
        digest.update(key.encode() + b"\0" + site.resources[key].body)
    # Same bytes when generated again from scratch (build_site is cached: bypass it).
    again = build_site.__wrapped__()
    digest2 = hashlib.sha256()
    for key in sorted(again.resources):
        digest2.update(key.encode() + b"\0" + again.resources[key].body)
    assert digest.hexdigest() == digest2.hexdigest()
    # Exactly one page carries the hostile title.
    hostile = [k for k, r in html.items() if b"<title>[b]bold?[/b] [@click=app.quit]" in r.body]
    assert hostile == [HOSTILE_PATH]


def test_expected_pages_shape() -> None:
    base = "http://127.0.0.1:8123/"
    expected = expected_pages(base)
    outcomes = list(expected.values())
    assert outcomes.count("failed") == len(BROKEN_PATHS)
    assert outcomes.count("skipped") == 2
    assert 200 <= outcomes.count("done") <= 400
    assert EXTERNAL_URL not in expected
    assert not disallowed_pages(base) & expected.keys()
    assert expected[base + "search?page=1&q=crawler"] == "done"
    assert not any("#" in u or "q=crawler&page" in u for u in expected)
    assert (
        expected_pages(base, download=("image/*", "application/pdf"))[base + "media/whitepaper.pdf"]
        == "done"
    )
    unrestricted = expected_pages(base, respect_robots=False)
    assert disallowed_pages(base) <= unrestricted.keys()


async def _bfs(base: str, client: httpx.AsyncClient) -> tuple[dict[str, str], set[str]]:
    """A tiny independent crawler: what the links on the served pages actually lead to."""
    origin = urlsplit(base)[:2]
    outcomes: dict[str, str] = {}
    external: set[str] = set()
    seen = {canonical(base, "/")}
    frontier = [canonical(base, "/")]
    while frontier:
        batch, frontier = frontier, []
        responses = await asyncio.gather(*(client.get(u, timeout=10) for u in batch))
        for url, response in zip(batch, responses, strict=True):
            if response.status_code >= 500:  # transient: retry once, as the engine would
                response = await client.get(url, timeout=10)
            if response.status_code >= 400:
                outcomes[url] = "failed"
                continue
            if not response.headers["content-type"].startswith("text/html"):
                outcomes[url] = "skipped"
                continue
            outcomes[url] = "done"
            tree = HTMLParser(response.text)
            hrefs = [n.attributes.get("href") for n in tree.css("a[href]")]
            hrefs += [n.attributes.get("src") for n in tree.css("img[src]")]
            for href in hrefs:
                assert href is not None
                target = canonical(url, href)
                parts = urlsplit(target)
                if parts[:2] != origin:
                    external.add(target)
                    continue
                if parts.path.startswith(DISALLOWED_PREFIX) or target in seen:
                    continue
                seen.add(target)
                frontier.append(target)
    return outcomes, external


async def test_expected_pages_matches_the_links_actually_served() -> None:
    async with DemoServer(slow_seconds=0.2) as server:
        assert server.base_url is not None
        base = server.base_url
        async with httpx.AsyncClient() as client:
            outcomes, external = await _bfs(base, client)
        assert outcomes == expected_pages(base)
        assert external == {EXTERNAL_URL}
        # Each page fetched once (plus the one retry of the flaky page); nothing disallowed.
        fetched = [r.path_qs for r in server.requests]
        assert len(fetched) == len(outcomes) + 1
        assert not any(p.startswith(DISALLOWED_PREFIX) for p in fetched)
