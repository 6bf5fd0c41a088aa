"""The heads kept per exchange: faithful (order, case, repeats, the status line as received),
bounded, and without credentials."""

from __future__ import annotations

import httpx

from tui_scraper.engine.http_heads import (
    ALWAYS_UNRECORDED,
    HEAD_CAP,
    request_head,
    response_head,
)


def test_the_response_head_is_as_received() -> None:
    response = httpx.Response(
        203,
        headers=[(b"X-B", b"1"), (b"set-cookie", b"a=1"), (b"Set-Cookie", b"b=2")],
        extensions={"http_version": b"HTTP/1.0", "reason_phrase": b"Fine Enough"},
    )
    assert response_head(response) == (
        b"HTTP/1.0 203 Fine Enough\r\nX-B: 1\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
    )


def test_a_huge_head_is_cut_at_a_header_boundary() -> None:
    many = [(f"X-Filler-{n}".encode(), b"v" * 1000) for n in range(100)]
    head = response_head(httpx.Response(200, headers=many))
    assert len(head) <= HEAD_CAP
    assert head.startswith(b"HTTP/1.1 200 OK\r\nX-Filler-0: ")
    assert head.endswith(b"v\r\n\r\n")  # whole lines only, then the blank line
    assert head.count(b"\r\n\r\n") == 1


def test_credentials_are_left_out_of_the_request_head() -> None:
    request = httpx.Request(
        "GET",
        "http://127.0.0.1:9/a/b?q=1",
        headers=[
            ("User-Agent", "ua"),
            ("Cookie", "session=abc"),
            ("Authorization", "Bearer t"),
            ("X-Api-Key", "k"),
        ],
    )
    head = request_head(request, ALWAYS_UNRECORDED | {"x-api-key"})
    assert head == b"GET /a/b?q=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUser-Agent: ua\r\n\r\n"
