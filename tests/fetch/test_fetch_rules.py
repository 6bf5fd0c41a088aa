"""Fetcher rules of round two: odd status lines are protocol errors, the cookie jar is bounded,
TLS verification failures are permanent and a local CA can be trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tui_scraper.engine.fetch import Fetcher, FetchError

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


async def test_cookie_jar_is_bounded_per_host_and_per_request(
    server: HostileServer, fetcher: Fetcher
) -> None:
    """Each page sets 20 new 3 KB cookies: the jar keeps at most 50 for the host, the Cookie
    header stays under 8 KiB, and every page of the host keeps loading."""
    value = "v" * 3000

    async def setter(req: Request, w: object, e: LogEntry) -> bool:
        n = req.path.rsplit("/", 1)[1]
        headers = [("Content-Length", "2"), ("Content-Type", "text/html")]
        headers += [("Set-Cookie", f"c{n}_{k}={value}; Path=/") for k in range(20)]
        return await send(w, e, "200 OK", headers, b"ok")  # type: ignore[arg-type]

    for n in range(40):
        server.routes[f"/p/{n}"] = setter
    for n in range(40):
        response = await fetcher.fetch(server.url(f"/p/{n}"), want_body=_all)
        assert response.status_code == 200
    sizes = [len(entry.headers.get("cookie", "")) for entry in server.log]
    assert max(sizes) <= 8192, max(sizes)
    assert sizes[-1] > 0  # cookies are still sent: the newest ones
    jar = fetcher._client.cookies.jar
    assert len(jar) <= 50
    names = {cookie.name for cookie in jar}
    assert "c39_19" in names and "c0_0" not in names  # the oldest were evicted


async def test_cookie_over_4_kib_is_dropped_and_expiry_still_clears(
    server: HostileServer, fetcher: Fetcher
) -> None:
    async def setter(req: Request, w: object, e: LogEntry) -> bool:
        headers = [("Content-Length", "2"), ("Content-Type", "text/html")]
        if req.path == "/set":
            headers += [("Set-Cookie", f"big={'x' * 5000}"), ("Set-Cookie", "small=1")]
        else:
            headers += [("Set-Cookie", "small=; Max-Age=0")]
        return await send(w, e, "200 OK", headers, b"ok")  # type: ignore[arg-type]

    server.routes["/set"] = setter
    server.routes["/unset"] = setter
    await fetcher.fetch(server.url("/set"), want_body=_all)
    assert {c.name for c in fetcher._client.cookies.jar} == {"small"}
    await fetcher.fetch(server.url("/unset"), want_body=_all)
    assert server.log[-1].headers.get("cookie") == "small=1"
    assert len(fetcher._client.cookies.jar) == 0
    await fetcher.fetch(server.url("/set"), want_body=_all)
    assert "cookie" not in server.log[-1].headers


async def test_a_response_that_sets_no_cookie_skips_the_jar(
    server: HostileServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jar parses only responses with Set-Cookie; cookies set are still sent back."""
    jar = fetcher._client.cookies.jar
    parsed: list[str] = []
    original = jar.extract_cookies

    def counting(response: object, request: object) -> None:
        parsed.append(str(getattr(request, "full_url", "")))
        original(response, request)  # type: ignore[arg-type]

    monkeypatch.setattr(jar, "extract_cookies", counting)

    async def setter(req: Request, w: object, e: LogEntry) -> bool:
        headers = [("Content-Length", "2"), ("Content-Type", "text/html")]
        headers.append(("Set-Cookie", "session=abc; Path=/"))
        return await send(w, e, "200 OK", headers, b"ok")  # type: ignore[arg-type]

    async def plain(req: Request, w: object, e: LogEntry) -> bool:
        headers = {"Content-Length": "2", "Content-Type": "text/html"}
        return await send(w, e, "200 OK", headers, b"ok")  # type: ignore[arg-type]

    server.routes["/plain"] = plain
    server.routes["/set"] = setter
    await fetcher.fetch(server.url("/plain"), want_body=_all)
    assert parsed == []
    await fetcher.fetch(server.url("/set"), want_body=_all)
    assert len(parsed) == 1
    await fetcher.fetch(server.url("/plain"), want_body=_all)
    assert len(parsed) == 1
    assert server.log[-1].headers.get("cookie") == "session=abc"
