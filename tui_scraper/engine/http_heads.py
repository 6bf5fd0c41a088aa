"""The heads of one HTTP exchange as bytes, kept so that a WARC record of it can be written later:
the request line and headers we sent, and the status line and headers as received.

Built in the process that fetched (a fetch worker), from what the transport handed over: the
response's header names keep the case and order the server sent, repeated headers stay repeated.
Both are bounded (`HEAD_CAP`): headers past the cap are dropped whole, so a head always ends
with the blank line and parses.

Credentials are never recorded: the request's `Cookie`, `Authorization` and
`Proxy-Authorization` headers and every secret header of the crawl (`--header`, `--cookie`) are
left out. Secret values never enter the store (README, "Secret headers"), and a cookie the site
set during the crawl may be a login; a WARC file is made to be shared.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import httpx

__all__ = ["ALWAYS_UNRECORDED", "HEAD_CAP", "request_head", "response_head"]

# A head this long is a hostile or broken server; 16 KiB holds any ordinary one many times over.
HEAD_CAP: Final = 16 * 1024
ALWAYS_UNRECORDED: Final = frozenset({"cookie", "authorization", "proxy-authorization"})


def _head(first_line: bytes, fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    parts = [first_line, b"\r\n"]
    size = len(first_line) + 4  # the line's CRLF and the closing blank line
    for name, value in fields:
        line_size = len(name) + len(value) + 4
        if size + line_size > HEAD_CAP:
            break
        size += line_size
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def request_head(request: httpx.Request, unrecorded: frozenset[str]) -> bytes:
    """`GET /path?query HTTP/1.1` and the headers sent, less the lower-cased `unrecorded`."""
    fields = (
        (name, value)
        for name, value in request.headers.raw
        if name.decode("latin-1").lower() not in unrecorded
    )
    return _head(b"GET " + request.url.raw_path + b" HTTP/1.1", fields)


def response_head(response: httpx.Response) -> bytes:
    """The status line (version and reason phrase as the transport reported them) and every
    header as received."""
    version = response.extensions.get("http_version") or b"HTTP/1.1"
    reason = response.extensions.get("reason_phrase")
    if reason is None:
        reason = response.reason_phrase.encode("ascii", "replace")
    line = b"%s %d %s" % (version, response.status_code, reason)
    return _head(line.rstrip(b" "), response.headers.raw)
