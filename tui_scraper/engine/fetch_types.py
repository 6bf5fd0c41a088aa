"""What a fetch answers, without the HTTP client: the error and response records.

These cross the process boundary (a fetch worker pickles them back to the crawl's process), so
they live apart from `fetch`, which loads httpx and aiohttp: the coordinator unpickles them and
judges them (`pages`) without ever loading an HTTP client. `fetch` re-exports every name.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "RETRY_AFTER_CAP",
    "FetchError",
    "FetchResponse",
    "is_transient_status",
    "parse_retry_after",
]

RETRY_AFTER_CAP: Final = 3600.0


class FetchError(Exception):
    """A fetch that produced no usable response.

    kind: timeout, connect, tls, protocol, too_large, encoding, redirect_limit, redirect_refused,
    address_refused, scheme_refused, invalid_url. `transient` says whether retrying later may help.
    """

    def __init__(
        self, kind: str, message: str, *, transient: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        # Set by Fetcher.fetch: the hops followed before the failure, for the page's error record.
        self.redirects: list[str] = []

    def __repr__(self) -> str:
        return f"FetchError({self.kind!r}, {self.message!r}, transient={self.transient})"

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled when a fetch worker process sends it back: the default (cls, args) would call
        # __init__ with the message alone and lose kind, transient, retry_after and the hops.
        state = (self.kind, self.message, self.transient, self.retry_after, self.redirects)
        return (_rebuild_fetch_error, state)


def _rebuild_fetch_error(
    kind: str, message: str, transient: bool, retry_after: float | None, redirects: list[str]
) -> FetchError:
    error = FetchError(kind, message, transient=transient, retry_after=retry_after)
    error.redirects = redirects
    return error


# No slots: a slotted dataclass pickles through Python code, and this one crosses a pipe per page.
@dataclass
class FetchResponse:
    url: str  # as requested
    final_url: str  # after redirects
    status_code: int
    content_type: str  # lower-cased media type without parameters; "" if absent
    charset: str | None  # from the Content-Type header only
    headers: dict[str, str]  # the few in fetch.KEPT_HEADERS that were present
    body: bytes | None  # decoded body, or None when not read
    redirects: list[str] = field(default_factory=list)  # each hop's target, in order
    elapsed_ms: float = 0.0
    body_skipped: bool = False  # want_body() said no, so the body was never read
    truncated: bool = False  # only with truncate=True: the body was cut at the cap
    # The exchange's heads for a WARC record (http_heads.py): the request we sent, credentials
    # left out, and the status line and headers as received; `first_hop` is the same pair for
    # the first redirect's answer, when the fetch was redirected.
    request_head: bytes | None = None
    response_head: bytes | None = None
    first_hop: tuple[bytes, bytes] | None = None


def is_transient_status(code: int) -> bool:
    """429 and 5xx are worth retrying later; every other status is an answer."""
    return code == 429 or 500 <= code <= 599


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped at an hour
    so a hostile or broken server cannot park a page forever. `now` is wall-clock (time.time())."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(int(text)), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        return None
    delay = when.timestamp() - now
    if math.isnan(delay):
        return None
    return min(max(delay, 0.0), RETRY_AFTER_CAP)
