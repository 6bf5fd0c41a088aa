"""Canonical URLs and crawl scope.

`canonicalize` runs for every link of every page (tens of calls per page fetched), so it is
written with `str` methods on hand-split components instead of `urllib.parse` (whose `urljoin`
alone costs more than the whole fast path here) and regexes are limited to single character-class
scans that decide whether a component needs the slow path at all. Most links on real pages
already are canonical-looking (lower-case host, no escapes, no dot segments): those leave after a
few `find`/`in` checks.

The canonical form (all of these are exercised by tests/parse/test_urls.py):
  scheme://host[:port]/path[?query]
- scheme http or https only; scheme and host lower-case; non-ASCII hosts IDNA-encoded;
- userinfo dropped (credentials must never reach the store, and a crawler has no use for them);
- default port dropped; fragment dropped; empty path -> "/";
- percent-encoding normalised: hex upper-case, unreserved characters decoded, characters that may
  not appear literally encoded (UTF-8), reserved characters kept as they are;
- dot segments resolved (after percent normalisation, so "%2e%2e" counts as "..");
- query parameters sorted by name (stable: repeated names keep their order), empty ones dropped,
  session and tracking parameters (jsessionid, phpsessid, sid, sessionid, utm_*) dropped, also
  ";jsessionid=..." path parameters;
- path and query case kept: /D/a and /d/a are two pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Final

from tui_scraper.domain.config import SCOPES

if TYPE_CHECKING:
    from tui_scraper.domain import CrawlConfig

__all__ = [
    "DEFAULT_PORTS",
    "MAX_PATH_SEGMENTS",
    "MAX_QUERY_PARAMS",
    "MAX_REPEATED_SEGMENTS",
    "MAX_URL_LENGTH",
    "Scope",
    "canonicalize",
    "canonicalize_full",
]

MAX_URL_LENGTH = 2083  # Scrapy's URLLENGTH_LIMIT, the old IE limit
MAX_REPEATED_SEGMENTS = 2  # Heritrix PathologicalPathDecideRule default
MAX_PATH_SEGMENTS = 20
MAX_QUERY_PARAMS = 30

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_DEFAULT_PORT_TEXT = {scheme: str(port) for scheme, port in DEFAULT_PORTS.items()}
_SESSION_PARAMS = frozenset({"jsessionid", "phpsessid", "sid", "sessionid", "aspsessionid"})

# Characters that may stay literal in a path / query. Anything else (space, quotes, <, >, `, {, },
# |, \, ^, controls, non-ASCII) is percent-encoded; "%" itself sends the component to the slow path
# so its escapes get normalised. "[" and "]" are kept: browsers send them literally.
_PATH_NEEDS_WORK = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/\[\]]")
_QUERY_NEEDS_WORK = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/?\[\]]")
_AUTHORITY_END = re.compile(r"[/?#]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# A host made of these is already canonical once lower-cased.
_HOST_OK = re.compile(r"[a-z0-9.\-_]+")
# Code points the URL standard forbids in a host.
_HOST_FORBIDDEN = frozenset(" \t\n\r#%/:<>?@[\\]^|\x00\"'`{}")

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
_PATH_KEEP = frozenset("!$&'()*+,;=:@/[]") | _UNRESERVED
_QUERY_KEEP = _PATH_KEEP | frozenset("?")

# Whitespace a browser strips around an href, and the characters it deletes anywhere inside one.
_STRIP = " \t\n\r\f\x00\x0b"
_REMOVE_TABLE = str.maketrans("", "", "\t\n\r")


def _normalise_escapes(text: str, keep: frozenset[str]) -> str:
    """Slow path: upper-case escapes, decode unreserved ones, encode what may not be literal."""
    out: list[str] = []
    append = out.append
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            if i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
                code = int(text[i + 1 : i + 3], 16)
                decoded = chr(code)
                if decoded in _UNRESERVED:
                    append(decoded)
                else:
                    append("%" + text[i + 1 : i + 3].upper())
                i += 3
                continue
            append("%25")  # a lone "%" is data, not an escape
        elif ch in keep:
            append(ch)
        else:
            for byte in ch.encode("utf-8", "surrogatepass"):
                append(f"%{byte:02X}")
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an absolute path; only called when the path contains a "." segment."""
    segments = path.split("/")
    out: list[str] = []
    for seg in segments[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    # "/a/b/.." and "/a/." name the directory: keep the trailing slash.
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _strip_path_session(path: str) -> str:
    """Drop ";jsessionid=..." style parameters from every path segment."""
    parts = path.split("/")
    for index, seg in enumerate(parts):
        if ";" not in seg:
            continue
        head, *params = seg.split(";")
        kept = [p for p in params if p.partition("=")[0].lower() not in _SESSION_PARAMS]
        parts[index] = ";".join([head, *kept])
    return "/".join(parts)


def _canonical_query(query: str) -> str:
    if _QUERY_NEEDS_WORK.search(query) is not None:
        query = _normalise_escapes(query, _QUERY_KEEP)
    if "&" not in query:  # one parameter: nothing to sort
        low = query.partition("=")[0].lower()
        return "" if low in _SESSION_PARAMS or low.startswith("utm_") else query
    kept: list[tuple[str, str]] = []
    for param in query.split("&"):
        if not param:
            continue
        name = param.partition("=")[0]
        low = name.lower()
        if low in _SESSION_PARAMS or low.startswith("utm_"):
            continue
        kept.append((name, param))
    if len(kept) > 1:
        kept.sort(key=_first)  # list.sort is stable: repeated names keep their order
    return "&".join([param for _, param in kept])


def _first(pair: tuple[str, str]) -> str:
    return pair[0]


def _canonical_host(host: str) -> str | None:
    host = host.lower()
    if _HOST_OK.fullmatch(host) is not None:
        return host
    if "%" in host:
        from urllib.parse import unquote

        host = unquote(host).lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not host or any(ch in _HOST_FORBIDDEN for ch in host) or not host.isprintable():
        return None
    return host


def _canonical_netloc(scheme: str, authority: str) -> str | None:
    """host[:port] of an authority with userinfo and default port dropped; None if invalid."""
    at = authority.rfind("@")
    if at >= 0:
        authority = authority[at + 1 :]
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host = authority[: end + 1].lower()
        rest = authority[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
        inner = host[1:-1]
        if not inner or any(ch not in "0123456789abcdef:." for ch in inner):
            return None
    else:
        host, _, port = authority.partition(":")
        if ":" in port:
            return None
        canonical = _canonical_host(host)
        if canonical is None:
            return None
        host = canonical
    if port:
        if not port.isdigit() or not port.isascii() or int(port) > 65535:
            return None
        port = str(int(port))  # "0080" -> "80"
        if port != _DEFAULT_PORT_TEXT[scheme]:
            return f"{host}:{port}"
    return host


# Authorities repeat on almost every link of a crawl: remember their canonical form.
# Values are "" for an invalid authority. Bounded: cleared when full.
_NETLOC_CACHE: dict[tuple[str, str], str] = {}
_BaseParts = tuple[str, str, str, str]
_BASE_CACHE: dict[str, _BaseParts | None] = {}
_CACHE_LIMIT = 4096


def _netloc(scheme: str, authority: str) -> str | None:
    key = (scheme, authority)
    cached = _NETLOC_CACHE.get(key)
    if cached is None:
        if len(_NETLOC_CACHE) >= _CACHE_LIMIT:
            _NETLOC_CACHE.clear()
        cached = _NETLOC_CACHE[key] = _canonical_netloc(scheme, authority) or ""
    return cached or None


def _base_parts(base: str) -> _BaseParts | None:
    """(scheme://netloc, path, query, plain directory) of the canonical form of `base`, cached.

    The plain directory is "scheme://netloc/dir/" when the path's directory holds nothing that
    `_finish` would rewrite (escapes, ";" parameters, "/." segments), else "": a plain reference
    appended to it is then already canonical.
    """
    if base in _BASE_CACHE:
        return _BASE_CACHE[base]
    canonical = canonicalize_full(base)
    parts: _BaseParts | None = None
    if canonical is not None:
        slash = canonical.find("/", canonical.find("://") + 3)
        path, _, query = canonical[slash:].partition("?")
        directory = path[: path.rfind("/") + 1]
        plain = "%" not in directory and ";" not in directory and "/." not in directory
        parts = (canonical[:slash], path, query, canonical[:slash] + directory if plain else "")
    if len(_BASE_CACHE) >= _CACHE_LIMIT:
        _BASE_CACHE.clear()
    _BASE_CACHE[base] = parts
    return parts


def _finish(prefix: str, tail: str) -> str:
    """Canonical URL from a canonical "scheme://netloc" and the rest ("/path?query#fragment")."""
    hash_at = tail.find("#")
    if hash_at >= 0:
        tail = tail[:hash_at]
    query_at = tail.find("?")
    if query_at >= 0:
        path = tail[:query_at] or "/"
        query = tail[query_at + 1 :]
    else:
        path = tail or "/"
        query = ""
    if _PATH_NEEDS_WORK.search(path) is not None:
        path = _normalise_escapes(path, _PATH_KEEP)
    if ";" in path:
        path = _strip_path_session(path)
    if "/." in path:
        path = _remove_dot_segments(path)
    if query:
        query = _canonical_query(query)
        if query:
            return prefix + path + "?" + query
    return prefix + path


def canonicalize(url: str, base: str | None = None) -> str | None:
    """The canonical absolute form of `url` (resolved against `base`), or None.

    None means "not something we could ever fetch": another scheme (mailto:, javascript:, data:,
    file:, ftp:, tel:, ...), no host, a bad port, or a host that cannot be encoded.
    """
    if base is not None:
        plain = _plain_reference(url, base)
        if plain is not None:
            return plain
    return canonicalize_full(url, base)


# A reference most links on a page are: a path ("p1.html", "a/b", "/a/b", "/") made only of
# characters that stay literal in a canonical path, with no scheme (no ":"), escape, ";"
# parameter, query or whitespace; a fragment may follow. "." may not start a segment (checked
# apart), so there are no dot segments either.
_PLAIN_REFERENCE = re.compile(r"/?[A-Za-z0-9\-_~!$&'()*+,=@][A-Za-z0-9\-._~!$&'()*+,=@/]*|/")


def _plain_reference(url: str, base: str) -> str | None:
    """The canonical form of a plain reference (above) against `base`, or None when `url` is not
    one or the base is not plain: then `canonicalize_full` decides. Gives exactly what the full
    path gives, without its component scans (tests/parse/test_urls_fast_path.py)."""
    hash_at = url.find("#")
    head = url if hash_at < 0 else url[:hash_at]
    if not head or _PLAIN_REFERENCE.fullmatch(head) is None or "/." in head:
        return None
    parts = _base_parts(base)
    if parts is None:
        return None
    if head[0] == "/":
        return parts[0] + head
    directory = parts[3]
    return directory + head if directory else None


def canonicalize_full(url: str, base: str | None = None) -> str | None:
    """`canonicalize` without its fast path for plain references: every case goes through the
    component-by-component canonicalisation (kept callable so tests can compare the two)."""
    url = url.strip(_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_REMOVE_TABLE)
    if url.startswith("https://"):
        scheme, rest = "https", url[8:]
    elif url.startswith("http://"):
        scheme, rest = "http", url[7:]
    else:
        colon = url.find(":")
        if colon > 0 and _SCHEME.fullmatch(url, 0, colon) is not None:
            # Another scheme, or an oddity a browser still reads as http(s): "http:/x", "HTTP:\\x".
            # "HTTP://x" lands here too; it is then the same as "http://x".
            scheme = url[:colon].lower()
            if scheme not in _DEFAULT_PORT_TEXT:
                return None
            rest = url[colon + 1 :].replace("\\", "/").lstrip("/")
        elif base is None:
            return None
        else:
            return _relative(url, base)
    if "\\" in rest:
        rest = _backslashes_before_query(rest)
    # The authority ends at the first "/", "?" or "#" (urlsplit would cost more than this search).
    match = _AUTHORITY_END.search(rest)
    end = len(rest) if match is None else match.start()
    if end == 0:
        return None
    netloc = _netloc(scheme, rest[:end])
    if netloc is None:
        return None
    return _finish(scheme + "://" + netloc, rest[end:])


def _relative(url: str, base: str) -> str | None:
    """Resolve a reference without a scheme (RFC 3986 §5.2) against `base`, canonically."""
    parts = _base_parts(base)
    if parts is None:
        return None
    prefix, base_path, base_query, _ = parts
    if "\\" in url:
        url = _backslashes_before_query(url)
    if url.startswith("//"):
        return canonicalize_full(prefix[: prefix.find(":") + 1] + url)
    first = url[:1]
    if first == "/":
        return _finish(prefix, url)
    if first == "?":
        return _finish(prefix, base_path + url)
    if not url or first == "#":  # the same document
        return prefix + base_path + ("?" + base_query if base_query else "")
    # Merge with the base's directory; _finish removes any dot segments.
    return _finish(prefix, base_path[: base_path.rfind("/") + 1] + url)


def _backslashes_before_query(url: str) -> str:
    # Browsers read "\\" as "/" in http(s) URLs, but only before the query.
    q = url.find("?")
    if q < 0:
        return url.replace("\\", "/")
    return url[:q].replace("\\", "/") + url[q:]


# --------------------------------------------------------------------------------------------------
# Scope


def _split_canonical(url: str) -> tuple[str, str, str, str] | None:
    """(scheme, host, port-or-"", rest) of a URL that `canonicalize` produced."""
    sep = url.find("://")
    if sep < 0:
        return None
    scheme = url[:sep]
    slash = url.find("/", sep + 3)
    if slash < 0:
        return None
    netloc = url[sep + 3 : slash]
    bracket = netloc.rfind("]")
    colon = netloc.rfind(":")
    if colon > bracket:
        return scheme, netloc[:colon], netloc[colon + 1 :], url[slash:]
    return scheme, netloc, "", url[slash:]


@dataclass(frozen=True)
class Scope:
    """Which URLs a session may follow. Immutable and picklable (sent to the fetch workers).

    - host:   the seed's host and port. http and https count as the same site when both use their
              default port (the usual http -> https upgrade), otherwise the explicit port must match
              (a scope that ignores the port wanders to dead ports).
    - domain: the seed host with a leading "www." stripped, and every subdomain of it; same port
              rule.
              No Public Suffix List: we never download one.
    - any:    every http(s) URL.
    include/exclude regexes are searched (re.search) in the canonical URL.
    """

    mode: str
    host: str
    port: str  # "" = the scheme's default port
    domain: str
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    max_depth: int | None = None

    @classmethod
    def from_config(cls, cfg: CrawlConfig) -> Scope:
        return cls.build(
            cfg.target_url,
            mode=cfg.scope,
            include=cfg.include,
            exclude=cfg.exclude,
            max_depth=cfg.max_depth,
        )

    @classmethod
    def build(
        cls,
        seed: str,
        *,
        mode: str = "host",
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        max_depth: int | None = None,
    ) -> Scope:
        if mode not in SCOPES:
            raise ValueError(f"unknown scope {mode!r}")
        canonical = canonicalize(seed)
        parts = _split_canonical(canonical) if canonical is not None else None
        if parts is None:
            raise ValueError(f"{seed!r} is not an http(s) URL")
        _, host, port, _ = parts
        domain = host[4:] if host.startswith("www.") and host.count(".") >= 2 else host
        return cls(
            mode=mode,
            host=host,
            port=port,
            domain=domain,
            include=tuple(re.compile(p) for p in include),
            exclude=tuple(re.compile(p) for p in exclude),
            max_depth=max_depth,
        )

    def excluded(self, url: str) -> bool:
        """Whether an exclude pattern matches `url` (canonical)."""
        return any(pattern.search(url) is not None for pattern in self.exclude)

    @cached_property
    def _site_starts(self) -> tuple[str, str]:
        """How every URL of the site begins in host mode: "http://host[:port]/" and its https
        twin. A canonical URL that begins so passes the scheme, host and port tests as it is."""
        netloc = f"{self.host}:{self.port}" if self.port else self.host
        return f"http://{netloc}/", f"https://{netloc}/"

    def check(self, url: str, depth: int) -> str | None:
        """Why `url` (canonical) found at `depth` must not be crawled, or None when it may be."""
        if len(url) > MAX_URL_LENGTH:
            return "url too long"
        if self.mode == "host":
            # Most links of a page stay on its site: skip splitting them into components.
            http, https = self._site_starts
            if url.startswith(http):
                return self._check_rest(url, url[len(http) - 1 :], depth)
            if url.startswith(https):
                return self._check_rest(url, url[len(https) - 1 :], depth)
        return self.check_full(url, depth)

    def check_full(self, url: str, depth: int) -> str | None:
        """`check` without its shortcut for URLs of the site: every test on the URL's parts (kept
        callable so tests can compare the two)."""
        if len(url) > MAX_URL_LENGTH:
            return "url too long"
        parts = _split_canonical(url)
        if parts is None:
            return "out of scope"
        scheme, host, port, rest = parts
        if scheme not in _DEFAULT_PORT_TEXT:
            return "out of scope"
        if self.mode != "any":
            if port != self.port:
                return "out of scope"
            if self.mode == "host":
                if host != self.host:
                    return "out of scope"
            elif host != self.domain and not host.endswith("." + self.domain):
                return "out of scope"
        return self._check_rest(url, rest, depth)

    def _check_rest(self, url: str, rest: str, depth: int) -> str | None:
        """The tests after scope: depth, traps on "/path?query" (`rest`), patterns."""
        if self.max_depth is not None and depth > self.max_depth:
            return "too deep"
        reason = _trap_reason(rest)
        if reason is not None:
            return reason
        for pattern in self.exclude:
            if pattern.search(url) is not None:
                return "excluded by pattern"
        if self.include and not any(p.search(url) is not None for p in self.include):
            return "not included"
        return None


def _trap_reason(rest: str) -> str | None:
    """Heritrix-style trap rules on "/path?query"."""
    query_at = rest.find("?")
    path = rest if query_at < 0 else rest[:query_at]
    if query_at >= 0 and rest.count("&", query_at) >= MAX_QUERY_PARAMS:
        return "too many query params"
    if path.count("/") > MAX_PATH_SEGMENTS:
        return "too many path segments"
    if path.count("/") > MAX_REPEATED_SEGMENTS:
        run = 0
        previous: str | None = None
        for seg in path.split("/"):
            if seg == previous and seg:
                run += 1
                if run > MAX_REPEATED_SEGMENTS:
                    return "repeated path segments"
            else:
                run = 1
                previous = seg
    return None
