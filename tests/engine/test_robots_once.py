"""robots.txt is fetched once per origin, however many URLs of the host ask while it loads.

A unit of `RobotsCache` with a stand-in fetcher that counts its calls. The moment that used to
start a second fetch is the loop turn right after the fetch ends: the fetch is no longer in
flight, and the callers that waited on it have not resumed yet. The stand-in puts a caller
exactly there (a callback scheduled as its last act runs before the task's own done callbacks
have woken anyone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from tui_scraper.engine.fetch import Fetcher
from tui_scraper.engine.robots import RobotsCache

RULES = b"User-agent: *\nDisallow: /private/\n"


@dataclass
class _Response:
    status_code: int
    body: bytes | None


class _CountingFetcher:
    def __init__(self) -> None:
        self.calls = 0
        # Called as the fetch's last act: it runs in the next loop turn.
        self.on_done: Callable[[], None] | None = None

    async def fetch_robots(self, url: str, **_options: Any) -> _Response:
        self.calls += 1
        await asyncio.sleep(0.02)
        if self.on_done is not None:
            asyncio.get_running_loop().call_soon(self.on_done)
        return _Response(200, RULES)


async def test_a_caller_arriving_as_the_fetch_ends_uses_its_rules() -> None:
    fetcher = _CountingFetcher()
    cache = RobotsCache(cast(Fetcher, fetcher), "TestBot/1.0")
    late: list[asyncio.Task[bool]] = []
    fetcher.on_done = lambda: late.append(
        asyncio.create_task(cache.allowed("http://127.0.0.1:9/private/late"))
    )
    waiting = [asyncio.create_task(cache.allowed(f"http://127.0.0.1:9/{i}")) for i in range(3)]
    assert await asyncio.gather(*waiting) == [True, True, True]
    assert late and await late[0] is False
    assert fetcher.calls == 1


async def test_callers_arriving_in_every_loop_turn_share_one_fetch() -> None:
    fetcher = _CountingFetcher()
    cache = RobotsCache(cast(Fetcher, fetcher), "TestBot/1.0")
    callers: list[asyncio.Task[bool]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.1  # well past the fetch's 20 ms
    while loop.time() < deadline:
        url = f"http://127.0.0.1:9/{'private/' if len(callers) % 2 else ''}{len(callers)}"
        callers.append(asyncio.create_task(cache.allowed(url)))
        await asyncio.sleep(0)
    verdicts = await asyncio.gather(*callers)
    assert fetcher.calls == 1
    assert verdicts == [i % 2 == 0 for i in range(len(callers))]


async def test_a_cancelled_caller_leaves_the_fetch_and_its_rules_to_the_others() -> None:
    fetcher = _CountingFetcher()
    cache = RobotsCache(cast(Fetcher, fetcher), "TestBot/1.0")
    first = asyncio.create_task(cache.allowed("http://127.0.0.1:9/a"))
    second = asyncio.create_task(cache.allowed("http://127.0.0.1:9/private/b"))
    await asyncio.sleep(0.005)
    first.cancel()
    assert await second is False
    assert await cache.allowed("http://127.0.0.1:9/c") is True
    assert fetcher.calls == 1
