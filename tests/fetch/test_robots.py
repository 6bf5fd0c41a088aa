"""robots.txt per RFC 9309 through the Fetcher (T18)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tui_scraper.engine.fetch import Fetcher
from tui_scraper.engine.robots import RobotsCache

from .conftest import HostileServer, LogEntry, Request, page, redirect, send

UA = "TestBot/2.1 (+https://example.invalid/bot)"

RULES = b"""\
User-agent: *
Disallow: /folder/
Allow: /folder/page
Disallow: /*.pdf$
Disallow: /private*/
Crawl-delay: 3

User-agent: otherbot
Disallow: /
"""


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    f = Fetcher(
        concurrency=4,
        user_agent=UA,
        request_timeout=1.5,
        max_body_bytes=10 << 20,
        allow_private=True,
    )
    yield f
    await f.aclose()


def _robots(server: HostileServer, body: bytes, status: str = "200 OK") -> None:
    async def handler(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        return await send(
            w, e, status, {"Content-Type": "text/plain", "Content-Length": str(len(body))}, body
        )

    server.routes["/robots.txt"] = handler


async def test_rfc9309_matching(server: HostileServer, fetcher: Fetcher) -> None:
    _robots(server, RULES)
    rc = RobotsCache(fetcher, UA)
    expect = {
        "/": True,
        "/folder/other": False,
        "/folder/page": True,  # longest match: the Allow is longer than the Disallow
        "/files/doc.pdf": False,  # wildcard + end anchor
        "/files/doc.pdf?x=1": True,
        "/private-stuff/x": False,
        "/privatefile": True,
    }
    got = {p: await rc.allowed(server.url(p)) for p in expect}
    assert got == expect
    assert rc.crawl_delay(server.url("/any")) == 3.0
    assert len(server.hits("/robots.txt")) == 1  # fetched once per origin


async def test_concurrent_callers_share_one_fetch(server: HostileServer, fetcher: Fetcher) -> None:
    async def slow(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await asyncio.sleep(0.2)
        return await send(w, e, "200 OK", {"Content-Length": str(len(RULES))}, RULES)

    server.routes["/robots.txt"] = slow
    rc = RobotsCache(fetcher, UA)
    results = await asyncio.gather(*(rc.allowed(server.url(f"/folder/{i}")) for i in range(20)))
    assert results == [False] * 20
    assert len(server.hits("/robots.txt")) == 1


@pytest.mark.parametrize(
    ("status", "allowed", "temporary"),
    [
        ("404 Not Found", True, False),
        ("401 Unauthorized", True, False),  # RFC 9309: 4xx means no restrictions
        ("403 Forbidden", True, False),
        ("500 Internal Server Error", False, True),
        ("503 Service Unavailable", False, True),
    ],
)
async def test_status_mapping(
    server: HostileServer, fetcher: Fetcher, status: str, allowed: bool, temporary: bool
) -> None:
    _robots(server, b"User-agent: *\nDisallow: /\n", status)
    rc = RobotsCache(fetcher, UA)
    verdict = await rc.verdict(server.url("/x"))
    assert verdict.allowed is allowed and verdict.temporary is temporary


@pytest.mark.timeout(15)
async def test_timeout_and_unreachable_disallow(server: HostileServer, fetcher: Fetcher) -> None:
    async def hang(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await asyncio.sleep(30)
        return False

    server.routes["/robots.txt"] = hang
    rc = RobotsCache(fetcher, UA)
    verdict = await rc.verdict(server.url("/x"))
    assert not verdict.allowed and verdict.temporary and "timeout" in (verdict.reason or "")
    verdict = await rc.verdict("http://127.0.0.1:9/x")  # nothing listens on port 9
    assert not verdict.allowed and verdict.temporary


async def test_error_verdict_is_retried_later(server: HostileServer, fetcher: Fetcher) -> None:
    now = [1000.0]
    _robots(server, b"", "503 Service Unavailable")
    rc = RobotsCache(fetcher, UA, retry_after_error=60, clock=lambda: now[0])
    assert not await rc.allowed(server.url("/a"))
    _robots(server, b"User-agent: *\nDisallow: /b\n")
    now[0] += 30
    assert not await rc.allowed(server.url("/a"))  # still cached
    now[0] += 31
    assert await rc.allowed(server.url("/a"))  # re-fetched after the error expired
    assert not await rc.allowed(server.url("/b"))
    assert len(server.hits("/robots.txt")) == 2


async def test_600_kib_file_parsed_up_to_500_kib(server: HostileServer, fetcher: Fetcher) -> None:
    head = b"User-agent: *\nDisallow: /early\n"
    filler = b"# " + b"x" * 1000 + b"\n"
    body = head + filler * (550 * 1024 // len(filler)) + b"Disallow: /late\n"
    body += filler * ((600 * 1024 - len(body)) // len(filler))
    assert len(body) > 590 * 1024
    _robots(server, body)
    rc = RobotsCache(fetcher, UA)
    assert not await rc.allowed(server.url("/early"))
    assert await rc.allowed(server.url("/late"))  # past the 500 KiB parsed


async def test_bom_and_non_utf8_bytes(server: HostileServer, fetcher: Fetcher) -> None:
    _robots(server, b"\xef\xbb\xbfUser-agent: *\nDisallow: /caf\xe9\xff/\nDisallow: /b\n")
    rc = RobotsCache(fetcher, UA)
    assert not await rc.allowed(server.url("/b"))  # first line parsed despite the BOM
    assert await rc.allowed(server.url("/a"))


async def test_redirects_followed_up_to_five(server: HostileServer, fetcher: Fetcher) -> None:
    for i in range(5):
        server.routes[f"/r{i}"] = redirect(f"/r{i + 1}")
    server.routes["/r5"] = page(b"User-agent: *\nDisallow: /x\n", "text/plain")
    server.routes["/robots.txt"] = redirect("/r0")  # 6 hops to the file
    rc = RobotsCache(fetcher, UA)
    assert await rc.allowed(server.url("/x"))  # more than 5 redirects: unavailable → allow all
    server.routes["/robots.txt"] = redirect("/r1")  # exactly 5 hops
    rc = RobotsCache(fetcher, UA)
    assert not await rc.allowed(server.url("/x"))


async def test_user_agent_groups(server: HostileServer, fetcher: Fetcher) -> None:
    _robots(server, RULES)
    other = RobotsCache(fetcher, "OtherBot/1.0")
    assert not await other.allowed(server.url("/"))
    assert other.crawl_delay(server.url("/")) is None


async def test_hostile_crawl_delay_capped(server: HostileServer, fetcher: Fetcher) -> None:
    _robots(server, b"User-agent: *\nCrawl-delay: 1000000000\n")
    rc = RobotsCache(fetcher, UA)
    assert await rc.allowed(server.url("/"))
    assert rc.crawl_delay(server.url("/")) == 60.0
