"""A cookie jar with bounds, so a site cannot grow our requests without limit.

The standard library's `CookieJar` keeps every cookie a server sets: pages that each set 20 new
3 KB cookies made a 1 MB Cookie header after 21 pages, and every later request to that host was
refused. RFC 6265 §6.1 asks a user agent to support *at least* 4096 bytes per cookie, 50 cookies
per domain and 3000 in all; browsers stop around there and evict the oldest. So does this jar,
and it also caps what one request carries, newest cookies first.
"""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.request
from typing import Final

__all__ = [
    "MAX_COOKIES",
    "MAX_COOKIE_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_PER_DOMAIN",
    "BoundedCookieJar",
]

MAX_COOKIE_BYTES: Final = 4096  # name + value (RFC 6265 §6.1)
MAX_PER_DOMAIN: Final = 50
MAX_COOKIES: Final = 3000
# What one request may carry: 8 KiB is the header-line limit of common servers (nginx, Apache).
MAX_HEADER_BYTES: Final = 8192

_Key = tuple[str, str, str]  # domain, path, name


class BoundedCookieJar(http.cookiejar.CookieJar):
    # The base class's own state (undeclared in its stubs): every jar method holds this lock.
    _cookies_lock: threading.RLock
    _cookies: dict[str, dict[str, dict[str, http.cookiejar.Cookie]]]

    def __init__(
        self,
        *,
        per_domain: int = MAX_PER_DOMAIN,
        total: int = MAX_COOKIES,
        cookie_bytes: int = MAX_COOKIE_BYTES,
        header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        super().__init__()
        self._per_domain = per_domain
        self._total = total
        self._cookie_bytes = cookie_bytes
        self._header_bytes = header_bytes
        # Insertion order, oldest first (dicts keep it); a re-set cookie moves to the end. The
        # value is a serial number, so a request can sort its cookies newest first.
        self._order: dict[_Key, int] = {}
        self._serial = 0
        self._domain_order: dict[str, dict[_Key, None]] = {}

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        if len(cookie.name) + len(cookie.value or "") > self._cookie_bytes:
            return  # too big to keep: dropped, as browsers do
        key = (cookie.domain, cookie.path, cookie.name)
        with self._cookies_lock:
            super().set_cookie(cookie)
            self._order.pop(key, None)
            self._serial += 1
            self._order[key] = self._serial
            in_domain = self._domain_order.setdefault(cookie.domain, {})
            in_domain.pop(key, None)
            in_domain[key] = None
            while len(in_domain) > self._per_domain:
                self._evict(next(iter(in_domain)))
            while len(self._order) > self._total:
                self._evict(next(iter(self._order)))

    def holds_cookies(self) -> bool:
        """Whether any cookie is stored (expired ones included, until the jar drops them)."""
        return bool(self._order)

    def clear(
        self, domain: str | None = None, path: str | None = None, name: str | None = None
    ) -> None:
        with self._cookies_lock:
            super().clear(domain, path, name)  # raises KeyError when nothing matches
            for key in [k for k in self._order if _matches(k, domain, path, name)]:
                self._forget(key)

    def _evict(self, key: _Key) -> None:
        self._forget(key)
        domain, path, name = key
        paths = self._cookies.get(domain, {})
        names = paths.get(path, {})
        names.pop(name, None)
        if not names:
            paths.pop(path, None)
        if not paths:
            self._cookies.pop(domain, None)

    def _forget(self, key: _Key) -> None:
        self._order.pop(key, None)
        in_domain = self._domain_order.get(key[0])
        if in_domain is not None:
            in_domain.pop(key, None)
            if not in_domain:
                del self._domain_order[key[0]]

    def _cookies_for_request(self, request: urllib.request.Request) -> list[http.cookiejar.Cookie]:
        cookies: list[http.cookiejar.Cookie] = super()._cookies_for_request(request)  # type: ignore[misc]
        if not cookies:
            return cookies
        order = self._order
        cookies.sort(key=lambda c: order.get((c.domain, c.path, c.name), -1), reverse=True)
        kept: list[http.cookiejar.Cookie] = []
        used = 0
        for cookie in cookies:
            size = len(cookie.name) + len(cookie.value or "") + 3  # "=" and "; "
            if used + size > self._header_bytes:
                continue
            used += size
            kept.append(cookie)
        return kept


def _matches(key: _Key, domain: str | None, path: str | None, name: str | None) -> bool:
    return (
        (domain is None or key[0] == domain)
        and (path is None or key[1] == path)
        and (name is None or key[2] == name)
    )
