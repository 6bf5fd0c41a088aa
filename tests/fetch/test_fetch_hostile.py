"""Fetcher against hostile servers: T12 (caps and bombs), T13 (slow drip),
T14 (redirect policy), T15 (addresses on redirect hops) and T24 (secrets on redirects)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tui_scraper.engine.fetch import Fetcher, FetchError

from .conftest import (
    BOMB_DECODED,
    HostileServer,
    LogEntry,
    Request,
    page,
    redirect,
    send,
    stream_forever,
)

CAP = 10 * 1024 * 1024
MiB = 1024 * 1024


def _any(_url: str) -> str | None:
    return None


def _html(ctype: str) -> bool:
    return ctype == "text/html"


def _all(_ctype: str) -> bool:
    return True


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    f = Fetcher(
        concurrency=4,
        user_agent="test-bot/1",
        request_timeout=5,
        max_body_bytes=CAP,
        allow_private=True,
    )
    yield f
    await f.aclose()


class SpyTransport(httpx.AsyncBaseTransport):
    """Records every URL that reaches the transport, i.e. every request actually sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _spy(f: Fetcher) -> SpyTransport:
    # The default transport is built inside the Fetcher; wrap it in place for the test.
    spy = SpyTransport(f._transport)
    f._transport = spy
    return spy


# ---------------------------------------------------------------------------------- basics ----


async def test_plain_gzip_page_and_metadata(server: HostileServer, fetcher: Fetcher) -> None:
    body = b"<html><title>x</title>" + b"y" * 36_000 + b"</html>"
    server.routes["/p"] = page(
        gzip.compress(body), 'Text/HTML; Charset="ISO-8859-1"', Content_Encoding="gzip"
    )
    r = await fetcher.fetch(server.url("/p"), url_check=_any, want_body=_html)
    assert r.status_code == 200
    assert r.body == body
    assert r.content_type == "text/html"
    assert r.charset == "iso-8859-1"
    assert r.headers["content-encoding"] == "gzip"
    assert r.redirects == [] and r.final_url == server.url("/p") and r.url == server.url("/p")
    assert not r.body_skipped and r.elapsed_ms > 0
    # Keep-alive: a second fetch reuses the connection (one TCP connection served both).
    await fetcher.fetch(server.url("/p"), url_check=_any, want_body=_html)
    assert len(server.hits("/p")) == 2


async def test_statuses_are_returned_not_raised(server: HostileServer, fetcher: Fetcher) -> None:
    async def busy(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        return await send(w, e, "503 Busy", {"Retry-After": "7", "Content-Length": "0"})

    server.routes["/busy"] = busy
    r = await fetcher.fetch(server.url("/busy"), url_check=_any, want_body=_html)
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    r = await fetcher.fetch(server.url("/missing"), url_check=_any, want_body=_html)
    assert r.status_code == 404


async def test_unwanted_body_is_not_read(server: HostileServer, fetcher: Fetcher) -> None:
    async def big_image(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await send(w, e, "200 OK", {"Content-Type": "image/png", "Content-Length": str(300 * MiB)})
        await stream_forever(w, e, bytes(64 * 1024), chunked=False, limit=300 * MiB)
        return False

    server.routes["/img"] = big_image
    t0 = time.monotonic()
    r = await fetcher.fetch(server.url("/img"), url_check=_any, want_body=_html)
    assert r.body is None and r.body_skipped and r.content_type == "image/png"
    assert time.monotonic() - t0 < 2
    await _wait_done(server.hits("/img")[0])
    assert server.hits("/img")[0].bytes_sent < 32 * MiB  # the client hung up


async def _wait_done(entry: LogEntry, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not entry.done and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert entry.done, "the server handler is still streaming: the client did not hang up"


# ---------------------------------------------------------------------- bombs and caps (T12) ---


async def _run_probe(
    server: HostileServer, path: str, transport: str, cap: int = CAP
) -> dict[str, object]:
    probe = Path(__file__).with_name("rss_probe.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(probe),
        server.url("/warm"),
        server.url(path),
        str(cap),
        transport,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        raise
    assert proc.returncode == 0, err.decode()
    result: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@pytest.mark.timeout(90)
async def test_bombs_keep_memory_bounded(server: HostileServer, bombs: dict[str, bytes]) -> None:
    """Each bomb decodes to 100 MiB; the fetch must stop at the 10 MiB cap with peak RSS growth
    < cap + 32 MB, measured in a fresh process per case (the default aiohttp transport, and
    httpx's own transport for gzip). Stacked encodings are refused before a byte is read, so
    they are checked in-process (test_stacked_and_unknown_encodings_refused_unread)."""
    for enc, blob in bombs.items():
        server.routes["/bomb-" + enc.replace(", ", "-")] = page(
            blob, "text/html", Content_Encoding=enc
        )
    server.routes["/warm"] = page(gzip.compress(b"<p>warm</p>" * 1000), Content_Encoding="gzip")
    cases = [
        ("/bomb-gzip", "aiohttp", "too_large"),
        ("/bomb-br", "aiohttp", "too_large"),
        ("/bomb-zstd", "aiohttp", "too_large"),
        ("/bomb-gzip", "httpx", "too_large"),
    ]
    # Control: with a cap above the bomb's size, the same probe must see the 100 MiB, or the
    # measurement itself is blind.
    control, *results = await asyncio.gather(
        _run_probe(server, "/bomb-zstd", "aiohttp", cap=BOMB_DECODED + 1),
        *(_run_probe(server, p, t) for p, t, _ in cases),
    )
    print("control", control)
    assert control["kind"] is None and control["body_len"] == BOMB_DECODED
    assert int(control["growth_kib"]) * 1024 > BOMB_DECODED * 0.9  # type: ignore[call-overload]
    for (path, transport, kind), res in zip(cases, results, strict=True):
        print(path, transport, res)  # shown with -s: the measured growth per case
        assert res["kind"] == kind, (path, transport, res)
        growth_mb = int(res["growth_kib"]) * 1024 / 1e6  # type: ignore[call-overload]
        assert growth_mb < CAP / 1e6 + 32, (path, transport, res)


async def test_stacked_and_unknown_encodings_refused_unread(
    server: HostileServer, fetcher: Fetcher, bombs: dict[str, bytes]
) -> None:
    server.routes["/stacked"] = page(b"x" * 1000, Content_Encoding="gzip, br")
    server.routes["/gzip3"] = page(bombs["gzip, gzip, gzip"], Content_Encoding="gzip, gzip, gzip")
    server.routes["/unknown"] = page(b"x" * 1000, Content_Encoding="compress")
    for path in ("/stacked", "/gzip3", "/unknown"):
        with pytest.raises(FetchError) as ei:
            await fetcher.fetch(server.url(path), url_check=_any, want_body=_html)
        assert ei.value.kind == "encoding" and not ei.value.transient


async def test_corrupt_gzip_is_an_encoding_error(server: HostileServer, fetcher: Fetcher) -> None:
    server.routes["/bad"] = page(b"\x1f\x8b\x08\x00garbage-garbage", Content_Encoding="gzip")
    with pytest.raises(FetchError) as ei:
        await fetcher.fetch(server.url("/bad"), url_check=_any, want_body=_html)
    assert ei.value.kind == "encoding"


@pytest.mark.timeout(20)
async def test_infinite_chunked_body_is_too_large(server: HostileServer, fetcher: Fetcher) -> None:
    async def endless(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await send(w, e, "200 OK", {"Content-Type": "text/html", "Transfer-Encoding": "chunked"})
        await stream_forever(w, e, b"<p>" * 20_000, chunked=True, limit=400 * MiB)
        return False

    server.routes["/endless"] = endless
    with pytest.raises(FetchError) as ei:
        await fetcher.fetch(server.url("/endless"), url_check=_any, want_body=_html)
    assert ei.value.kind == "too_large" and not ei.value.transient
    await _wait_done(server.hits("/endless")[0])
    assert server.hits("/endless")[0].bytes_sent < CAP + 32 * MiB


async def test_announced_length_over_cap_refused_before_reading(
    server: HostileServer, fetcher: Fetcher
) -> None:
    async def huge(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await send(w, e, "200 OK", {"Content-Type": "text/html", "Content-Length": str(CAP + 1)})
        await stream_forever(w, e, bytes(65536), chunked=False, limit=CAP + 1)
        return False

    server.routes["/huge"] = huge
    with pytest.raises(FetchError) as ei:
        await fetcher.fetch(server.url("/huge"), url_check=_any, want_body=_html)
    assert ei.value.kind == "too_large"


async def test_content_length_lie_is_transient_protocol_error(
    server: HostileServer, fetcher: Fetcher
) -> None:
    async def liar(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await send(w, e, "200 OK", {"Content-Type": "text/html", "Content-Length": "100"}, b"short")
        return False  # close after 5 of 100 bytes

    server.routes["/liar"] = liar
    with pytest.raises(FetchError) as ei:
        await fetcher.fetch(server.url("/liar"), url_check=_any, want_body=_html)
    assert ei.value.kind == "protocol" and ei.value.transient


async def test_connection_refused_is_transient_connect(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError) as ei:
        await fetcher.fetch("http://127.0.0.1:9/", url_check=_any, want_body=_html)
    assert ei.value.kind == "connect" and ei.value.transient


# ------------------------------------------------------------------------- slow drip (T13) ---


async def _drip(w: asyncio.StreamWriter, e: LogEntry, data: bytes) -> None:
    for i in range(len(data)):
        w.write(data[i : i + 1])
        e.bytes_sent += 1
        await w.drain()
        await asyncio.sleep(0.3)


@pytest.mark.timeout(20)
async def test_slow_drip_headers_and_body_hit_overall_deadline(server: HostileServer) -> None:
    async def drip_headers(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await _drip(w, e, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Pad: " + b"a" * 200)
        return False

    async def drip_body(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await send(w, e, "200 OK", {"Content-Type": "text/html", "Content-Length": "100"})
        await _drip(w, e, b"b" * 100)
        return False

    server.routes["/drip-h"] = drip_headers
    server.routes["/drip-b"] = drip_body
    server.routes["/fast"] = page(b"<p>fast</p>")
    f = Fetcher(
        concurrency=4,
        user_agent="t/1",
        request_timeout=3.0,
        max_body_bytes=CAP,
        allow_private=True,
    )

    async def timed(path: str) -> tuple[float, FetchError | None]:
        t0 = time.monotonic()
        try:
            await f.fetch(server.url(path), url_check=_any, want_body=_html)
        except FetchError as exc:
            return time.monotonic() - t0, exc
        return time.monotonic() - t0, None

    async def fast_flow() -> int:
        # Other requests keep flowing while the two dripping ones are stuck.
        n = 0
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            await f.fetch(server.url("/fast"), url_check=_any, want_body=_html)
            n += 1
        return n

    try:
        (th, eh), (tb, eb), n_fast = await asyncio.gather(
            timed("/drip-h"), timed("/drip-b"), fast_flow()
        )
    finally:
        await f.aclose()
    for elapsed, err in ((th, eh), (tb, eb)):
        assert err is not None and err.kind == "timeout" and err.transient
        assert 2.0 <= elapsed <= 4.0, elapsed
    assert n_fast > 20


# ---------------------------------------------------------------------- redirects (T14/T15) ---


async def test_redirect_loop_and_hop_limit(server: HostileServer, fetcher: Fetcher) -> None:
    server.routes["/loop"] = redirect("/loop")
    for i in range(11):
        server.routes[f"/hop{i}"] = redirect(f"/hop{i + 1}", "301 Moved Permanently")
    server.routes["/hop11"] = page(b"<p>end</p>")

    with pytest.raises(FetchError) as ei:
        await fetcher.fetch(server.url("/loop"), url_check=_any, want_body=_html)
    assert ei.value.kind == "redirect_limit" and not ei.value.transient
    assert len(server.hits("/loop")) == 11  # the first request and 10 hops, no more

    server.log.clear()
    with pytest.raises(FetchError) as ei:  # 11 hops needed
        await fetcher.fetch(server.url("/hop0"), url_check=_any, want_body=_html)
    assert ei.value.kind == "redirect_limit"
    assert len(server.log) == 11 and not server.hits("/hop11")

    r = await fetcher.fetch(server.url("/hop1"), url_check=_any, want_body=_html)  # 10 hops: ok
    assert r.status_code == 200 and r.body == b"<p>end</p>"
    assert len(r.redirects) == 10 and r.final_url == server.url("/hop11")


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("file:///etc/passwd", "scheme_refused"),
        ("ftp://127.0.0.1/x", "scheme_refused"),
        ("javascript:alert(1)", "scheme_refused"),
        ("data:text/html,hi", "scheme_refused"),
        ("http://169.254.169.254/latest/meta-data/", "address_refused"),
        ("http://[::ffff:169.254.169.254]/", "address_refused"),
        ("http://2852039166/", "address_refused"),
        ("http://0/", "address_refused"),
    ],
)
async def test_redirect_targets_refused_and_never_sent(
    server: HostileServer, fetcher: Fetcher, location: str, kind: str
) -> None:
    server.routes["/r"] = redirect(location)
    spy = _spy(fetcher)
    with pytest.raises(FetchError) as ei:
        await fetcher.fetch(server.url("/r"), url_check=_any, want_body=_html)
    assert ei.value.kind == kind and not ei.value.transient
    assert spy.sent == [server.url("/r")]


async def test_redirect_out_of_scope_refused_by_url_check(
    server: HostileServer, server2: HostileServer, fetcher: Fetcher
) -> None:
    server.routes["/r"] = redirect(server2.url("/elsewhere"))

    def same_host(url: str) -> str | None:
        return None if httpx.URL(url).host == "127.0.0.1" else "out of scope"

    with pytest.raises(FetchError) as ei:
        await fetcher.fetch(server.url("/r"), url_check=same_host, want_body=_html)
    assert ei.value.kind == "redirect_refused" and "out of scope" in ei.value.message
    assert ei.value.redirects == []
    assert server2.log == []


async def test_private_redirect_refused_without_allow_private(server: HostileServer) -> None:
    # A public-seeded crawl (allow_private=False) must not be bounced onto loopback. The seed
    # here is itself loopback, so send the first request through a fetcher that allows it and
    # check the policy object directly for the hop.
    f = Fetcher(
        concurrency=1, user_agent="t/1", request_timeout=5, max_body_bytes=CAP, allow_private=False
    )
    try:
        with pytest.raises(FetchError) as ei:
            await f.fetch(server.url("/"), url_check=_any, want_body=_html)
        assert ei.value.kind == "address_refused"
        assert server.log == []
    finally:
        await f.aclose()


@pytest.mark.timeout(20)
async def test_redirect_bodies_are_never_read(server: HostileServer, fetcher: Fetcher) -> None:
    async def fat_302(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        await send(
            w,
            e,
            "302 Found",
            {"Location": "/target", "Content-Length": str(300 * MiB), "Content-Type": "text/html"},
        )
        await stream_forever(w, e, bytes(65536), chunked=False, limit=300 * MiB)
        return False

    bomb = gzip.compress(bytes(50 * MiB))

    async def bomb_302(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        return await send(
            w,
            e,
            "302 Found",
            {"Location": "/target", "Content-Length": str(len(bomb)), "Content-Encoding": "gzip"},
            bomb,
        )

    server.routes["/fat"] = fat_302
    server.routes["/bomb302"] = bomb_302
    server.routes["/target"] = page(b"<p>target</p>")
    for path in ("/fat", "/bomb302"):
        t0 = time.monotonic()
        r = await fetcher.fetch(server.url(path), url_check=_any, want_body=_html)
        assert r.body == b"<p>target</p>" and r.redirects == [server.url("/target")]
        assert time.monotonic() - t0 < 3
    await _wait_done(server.hits("/fat")[0])
    assert server.hits("/fat")[0].bytes_sent < 32 * MiB


# -------------------------------------------------------------------------- secrets (T24) ---


async def test_secret_headers_only_to_seed_origin(
    server: HostileServer, server2: HostileServer
) -> None:
    server.routes["/start"] = redirect(server2.url("/landing"))
    server2.routes["/landing"] = redirect(server.url("/back"))
    server.routes["/back"] = page(b"<p>back</p>")
    secrets = {"Authorization": "Bearer S3CRET", "X-Api-Key": "S3CRET", "Cookie": "sid=S3CRET"}
    f = Fetcher(
        concurrency=2,
        user_agent="t/1",
        request_timeout=5,
        max_body_bytes=CAP,
        allow_private=True,
        secret_headers=secrets,
        secret_origin=server.origin + "/",
    )
    try:
        r = await f.fetch(server.url("/start"), url_check=_any, want_body=_html)
    finally:
        await f.aclose()
    assert r.status_code == 200
    start = server.hits("/start")[0].headers
    assert start["authorization"] == "Bearer S3CRET" and start["x-api-key"] == "S3CRET"
    landing = server2.hits("/landing")[0].headers
    assert not any("S3CRET" in v for v in landing.values()), landing
    assert set(landing) >= {"user-agent", "host"}
