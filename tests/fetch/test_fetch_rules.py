"""Fetcher rules of round two: odd status lines are protocol errors, the cookie jar is bounded,
TLS verification failures are permanent and a local CA can be trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tui_scraper.engine.decompress import SUPPORTED_ENCODINGS
from tui_scraper.engine.fetch import Fetcher, FetchError

from .conftest import HostileServer, LogEntry, Request, page, send


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
    jar = fetcher.cookies.jar
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
    assert {c.name for c in fetcher.cookies.jar} == {"small"}
    await fetcher.fetch(server.url("/unset"), want_body=_all)
    assert server.log[-1].headers.get("cookie") == "small=1"
    assert len(fetcher.cookies.jar) == 0
    await fetcher.fetch(server.url("/set"), want_body=_all)
    assert "cookie" not in server.log[-1].headers


async def test_a_response_that_sets_no_cookie_skips_the_jar(
    server: HostileServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jar parses only responses with Set-Cookie; cookies set are still sent back."""
    jar = fetcher.cookies.jar
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


# The Fetcher drives its transport directly (no httpx.AsyncClient): what the client did for us,
# it must still do.


async def test_every_request_carries_the_default_headers(
    server: HostileServer, fetcher: Fetcher
) -> None:
    server.routes["/p"] = page(b"<p>x</p>")
    await fetcher.fetch(server.url("/p"), want_body=_all)
    sent = server.hits("/p")[0].headers
    assert sent["user-agent"] == "test-bot/1"
    assert sent["accept-encoding"] == ", ".join(SUPPORTED_ENCODINGS)
    assert sent["accept"].startswith("text/html,")
    assert sent["host"] == server.origin.removeprefix("http://")
    assert "cookie" not in sent


async def test_a_users_cookie_replaces_the_jar_at_the_seed_and_only_there(
    server: HostileServer, server2: HostileServer
) -> None:
    async def setter(req: Request, w: object, e: LogEntry) -> bool:
        headers = [("Content-Length", "2"), ("Content-Type", "text/html")]
        headers.append(("Set-Cookie", "site=1; Path=/"))
        return await send(w, e, "200 OK", headers, b"ok")  # type: ignore[arg-type]

    for target in (server, server2):
        target.routes["/set"] = setter
        target.routes["/p"] = page(b"<p>x</p>")
    f = Fetcher(
        concurrency=2,
        user_agent="t/1",
        request_timeout=5,
        max_body_bytes=1 << 20,
        allow_private=True,
        secret_headers={"Cookie": "user=2", "User-Agent": "mine/9"},
        secret_origin=server.origin + "/",
    )
    try:
        for target in (server, server2):
            await f.fetch(target.url("/set"), want_body=_all)
            await f.fetch(target.url("/p"), want_body=_all)
    finally:
        await f.aclose()
    at_seed = server.hits("/p")[0].headers
    assert at_seed["cookie"] == "user=2" and at_seed["user-agent"] == "mine/9"
    elsewhere = server2.hits("/p")[0].headers
    assert elsewhere["cookie"] == "site=1" and elsewhere["user-agent"] == "t/1"


async def test_connections_are_kept_alive_between_fetches(
    server: HostileServer, fetcher: Fetcher
) -> None:
    peers: list[object] = []

    async def peer(req: Request, w: object, e: LogEntry) -> bool:
        peers.append(w.get_extra_info("peername"))  # type: ignore[attr-defined]
        return await send(w, e, "200 OK", {"Content-Length": "2"}, b"ok")  # type: ignore[arg-type]

    server.routes["/k"] = peer
    for _ in range(3):
        await fetcher.fetch(server.url("/k"), want_body=_all)
    assert len(peers) == 3 and len(set(peers)) == 1, peers
