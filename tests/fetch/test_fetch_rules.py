"""Fetcher rules of round two: odd status lines are protocol errors, the cookie jar is bounded,
TLS verification failures are permanent and a local CA can be trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tui_scraper.crawl.fetch import Fetcher, FetchError

from .conftest import HostileServer, LogEntry, Request, send


def _all(_ctype: str) -> bool:
    return True


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    f = Fetcher(
        concurrency=4,
        user_agent="test-bot/1",
        request_timeout=5,
        max_body_bytes=1 << 20,
        allow_private=True,
    )
    yield f
    await f.aclose()


@pytest.mark.parametrize("status", ["000 Zero", "099 Low", "600 High", "1000 Long"])
async def test_invalid_status_line_is_a_protocol_error(
    server: HostileServer, fetcher: Fetcher, status: str
) -> None:
    async def odd(req: Request, w: object, e: LogEntry) -> bool:
        return await send(w, e, status, {"Content-Length": "2", "Content-Type": "text/html"}, b"ok")  # type: ignore[arg-type]

    server.routes["/odd"] = odd
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(server.url("/odd"), want_body=_all)
    assert info.value.kind == "protocol"
    assert not info.value.transient
