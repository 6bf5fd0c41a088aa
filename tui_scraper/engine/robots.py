"""robots.txt per RFC 9309, fetched through our own Fetcher (a `RobotsSource`).

urllib.robotparser gets longest-match and wildcards wrong, has no timeout or size cap, and treats
401/403 as disallow-all; protego parses and matches per RFC 9309 and leaves fetching to us. So:
one fetch per origin (concurrent callers share it) under the fetcher's deadline and address
policy, at most 5 redirects, the first 500 KiB parsed, bytes decoded as UTF-8 with replacement.

Status mapping (RFC 9309 §2.3.1): 2xx → the rules; 4xx (and too many redirects) → no
restrictions; 5xx, unreachable, timeout → disallow everything. A disallow caused by an error is
*temporary*: it is re-fetched after `retry_after_error` seconds, so a server that was briefly down
when the crawl started does not block its site for the whole session.

The source is the crawl's fetch pool (`FetchPool.fetch_robots`: a fetch worker fetches the file
with its Fetcher, so the coordinator never loads an HTTP client) or, with `parse_workers=0`, the
crawl's own `Fetcher.fetch_robots`; either applies the address policy to every hop and the
deadline of a page's fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlsplit

from protego import Protego

from .fetch_types import FetchError, FetchResponse

__all__ = ["RobotsCache", "RobotsSource", "RobotsVerdict", "robots_url"]

ROBOTS_MAX_BYTES: Final = 500 * 1024  # RFC 9309 §2.5: parse at least 500 KiB
ROBOTS_MAX_REDIRECTS: Final = 5  # RFC 9309 §2.3.1.2
ROBOTS_TTL: Final = 24 * 3600.0  # RFC 9309 §2.4: cache no longer than 24 h
CRAWL_DELAY_CAP: Final = 60.0  # a hostile "Crawl-delay: 1e9" must not park a host forever
_PARSE_OFF_LOOP: Final = 64 * 1024  # protego on a big file takes long enough to stall the loop

# Errors after which the file is "unavailable" (allow all) rather than "unreachable". A TLS
# failure is permanent and the page's own fetch meets it too, reported as what it is, instead
# of as a robots.txt outage retried until the page's retries run out.
_UNAVAILABLE_KINDS: Final = frozenset(
    {
        "redirect_limit",
        "redirect_refused",
        "scheme_refused",
        "invalid_url",
        "address_refused",
        "tls",
    }
)


@dataclass(frozen=True, slots=True)
class RobotsVerdict:
    allowed: bool
    # True when the verdict comes from a failed robots.txt fetch (5xx/unreachable): the caller
    # may prefer to retry the page later rather than record it as disallowed for good.
    temporary: bool = False
    reason: str | None = None


@dataclass(slots=True)
class _Rules:
    parser: Protego | None  # None: no rules (allow all) or an error (see allow_all)
    allow_all: bool
    expires: float
    reason: str | None = None
    crawl_delay: float | None = None


def robots_url(url: str) -> tuple[str, str]:
    """(origin, robots URL) for any page URL."""
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower().rpartition('@')[2]}"
    return origin, origin + "/robots.txt"


def _product_token(user_agent: str) -> str:
    # RFC 9309 §2.2.1 matches on the product token: "MyBot/1.0 (+https://…)" → "mybot".
    token = user_agent.strip().split("/", 1)[0].split(None, 1)
    return token[0].lower() if token else "*"


class RobotsSource(Protocol):
    async def fetch_robots(self, url: str, *, max_redirects: int, max_bytes: int) -> FetchResponse:
        """GET `url` following at most `max_redirects` redirects anywhere, any content type,
        the body cut at `max_bytes`. Raises FetchError; every HTTP status is an answer."""
        ...


class RobotsCache:
    def __init__(
        self,
        fetcher: RobotsSource,
        user_agent: str,
        *,
        max_bytes: int = ROBOTS_MAX_BYTES,
        max_redirects: int = ROBOTS_MAX_REDIRECTS,
        retry_after_error: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._token = _product_token(user_agent)
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._retry_after_error = retry_after_error
        self._clock = clock
        self._rules: dict[str, _Rules] = {}
        self._loading: dict[str, asyncio.Task[_Rules]] = {}

    async def allowed(self, url: str) -> bool:
        return (await self.verdict(url)).allowed

    async def verdict(self, url: str) -> RobotsVerdict:
        origin, _ = robots_url(url)
        rules = self._rules.get(origin)
        if rules is None or rules.expires <= self._clock():
            rules = await self._load(origin)
        if rules.parser is None:
            if rules.allow_all:
                return _ALLOW
            return RobotsVerdict(False, temporary=True, reason=rules.reason)
        if rules.parser.can_fetch(url, self._token):
            return _ALLOW
        return _DISALLOWED_BY_RULES

    def crawl_delay(self, url: str) -> float | None:
        """Crawl-delay for our user agent at url's origin, once robots.txt has been loaded."""
        rules = self._rules.get(robots_url(url)[0])
        return rules.crawl_delay if rules is not None else None

    async def _load(self, origin: str) -> _Rules:
        task = self._loading.get(origin)
        if task is None:
            # A task of its own, so one caller being cancelled does not cancel the others' fetch.
            task = asyncio.create_task(self._fetch_and_store(origin), name=f"robots {origin}")
            self._loading[origin] = task
            task.add_done_callback(lambda _t: self._loading.pop(origin, None))
        return await asyncio.shield(task)

    async def _fetch_and_store(self, origin: str) -> _Rules:
        # Stored by the fetch itself, before it ends: the task leaves `_loading` as soon as it
        # is done, and a caller arriving before the waiters have resumed must find the rules
        # here rather than start a second fetch.
        rules = await self._fetch_rules(origin)
        self._rules[origin] = rules
        return rules

    async def _fetch_rules(self, origin: str) -> _Rules:
        now = self._clock()
        try:
            response = await self._fetcher.fetch_robots(
                origin + "/robots.txt",
                max_redirects=self._max_redirects,
                max_bytes=self._max_bytes,
            )
        except FetchError as exc:
            if exc.kind in _UNAVAILABLE_KINDS:
                return _Rules(None, allow_all=True, expires=now + ROBOTS_TTL)
            return _Rules(
                None,
                allow_all=False,
                expires=now + self._retry_after_error,
                reason=f"robots.txt unreachable ({exc.kind}): {exc.message}",
            )
        status = response.status_code
        if 200 <= status < 300:
            text = (response.body or b"").decode("utf-8", errors="replace").removeprefix("\ufeff")
            if len(text) > _PARSE_OFF_LOOP:
                parser = await asyncio.to_thread(Protego.parse, text)
            else:
                parser = Protego.parse(text)
            delay = parser.crawl_delay(self._token)
            if delay is not None:
                delay = min(max(float(delay), 0.0), CRAWL_DELAY_CAP)
            return _Rules(parser, allow_all=False, expires=now + ROBOTS_TTL, crawl_delay=delay)
        if 400 <= status < 500 or 300 <= status < 400:
            # 4xx: no robots.txt, no restrictions. A 3xx here had no Location: same thing.
            return _Rules(None, allow_all=True, expires=now + ROBOTS_TTL)
        return _Rules(
            None,
            allow_all=False,
            expires=now + self._retry_after_error,
            reason=f"robots.txt answered HTTP {status}",
        )


_ALLOW: Final = RobotsVerdict(True)
_DISALLOWED_BY_RULES: Final = RobotsVerdict(False, reason="disallowed by robots.txt")
