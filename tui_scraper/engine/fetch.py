"""HTTP fetching against hostile servers.

One httpx transport per Fetcher, driven directly (`handle_async_request`, no httpx.AsyncClient:
the Fetcher sets the default headers, the cookies and the per-phase timeouts itself); by default
our thin transport over aiohttp (`aiohttp_transport.py`; about twice the pages/s of httpx's own
on our benchmark). Each fetch:

- runs under one overall deadline (`asyncio.timeout`) covering connect, headers and body: httpx's
  read timeout is per read, so a server dripping one byte at a time would hold a request forever;
- follows redirects by hand (httpx's follower reads every redirect body, uncapped), checking the
  scheme, the caller's scope check and the address policy on every hop, never reading a redirect
  body;
- reads the body raw and decodes it with `BoundedDecoder`, so the byte cap applies to the
  *decoded* size and a compression bomb never materialises;
- sends user-supplied secret headers only to the seed's origin.

HTTP status codes are not errors: a 404 or 503 comes back as a FetchResponse; `is_transient_status`
and `parse_retry_after` help the caller decide about retries, which wait in the frontier.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import aiohttp
import httpx

from .addresses import AddressPolicy, AddressRefused, ResolveFailed
from .cookies import BoundedCookieJar
from .decompress import SUPPORTED_ENCODINGS, BodyTooLarge, BoundedDecoder, UnsupportedEncoding
from .fetch_types import FetchError, FetchResponse, is_transient_status, parse_retry_after
from .http_heads import ALWAYS_UNRECORDED, request_head, response_head
from .tls import shared_ssl_context
from .urls import DEFAULT_PORTS

__all__ = [
    "FetchError",
    "FetchResponse",
    "Fetcher",
    "is_transient_status",
    "parse_retry_after",
]

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
ALLOWED_SCHEMES: Final = frozenset({"http", "https"})

# The response headers a caller may need; everything else is dropped so results stay small.
KEPT_HEADERS: Final = (
    "content-type",
    "content-length",
    "content-encoding",
    "content-disposition",
    "retry-after",
    "last-modified",
    "etag",
)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme))


def _parse_content_type(value: str) -> tuple[str, str | None]:
    if not value:
        return "", None
    media, _, params = value.partition(";")
    charset: str | None = None
    if params:
        for part in params.split(";"):
            name, eq, val = part.partition("=")
            if eq and name.strip().lower() == "charset":
                charset = val.strip().strip("\"'").strip().lower() or None
                break
    return media.strip().lower(), charset


def _timeout_error(seconds: float) -> FetchError:
    return FetchError("timeout", f"no complete response within {seconds:g} s", transient=True)


def _tls_error(exc: aiohttp.ClientConnectorError) -> FetchError:
    """Permanent: a certificate that fails now fails on every retry."""
    where = f"{exc.host}:{exc.port}"
    cert = getattr(exc, "certificate_error", None)
    if isinstance(cert, ssl.SSLCertVerificationError):
        reason = cert.verify_message or str(cert)
        return FetchError(
            "tls",
            f"TLS certificate of {where} not trusted: {reason} "
            "(trust its CA with --ca-bundle FILE)",
            transient=False,
        )
    return FetchError("tls", f"TLS handshake with {where} failed: {exc.os_error}", transient=False)


def _connect_message(exc: aiohttp.ClientConnectorError) -> str:
    """Our own wording: aiohttp's names its TLS setting ("ssl:default") even for http URLs,
    which sends a user hunting for a certificate problem that is not there."""
    os_error = exc.os_error
    why = os.strerror(os_error.errno) if os_error.errno else (os_error.strerror or str(os_error))
    return f"cannot connect to {exc.host}:{exc.port}: {why}"


def _map_transport_error(exc: BaseException, *, after_headers: bool) -> FetchError:
    """Translate httpx/aiohttp/OS errors into one FetchError kind.

    Our aiohttp transport lets aiohttp's exceptions through as they are; a transport that maps
    them to httpx's (httpx-aiohttp turned every aiohttp.ClientConnectionError into
    httpx.ConnectTimeout) keeps the original as `__cause__`, which is looked at first.
    """
    cause = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    msg = str(cause) or type(cause).__name__
    if isinstance(cause, AddressRefused):
        return FetchError("address_refused", str(cause), transient=False)
    if isinstance(cause, ResolveFailed):
        return FetchError("connect", str(cause), transient=True)
    if isinstance(cause, aiohttp.ClientError):
        if isinstance(cause, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
            return _tls_error(cause)
        if isinstance(cause, aiohttp.ClientConnectorError):
            return FetchError("connect", _connect_message(cause), transient=True)
        if isinstance(cause, aiohttp.ServerTimeoutError):
            return FetchError("timeout", msg, transient=True)
        if isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            # A keep-alive connection the server dropped, or a body shorter than announced.
            return FetchError("protocol", msg, transient=True)
        if isinstance(cause, aiohttp.ClientOSError):
            kind = "protocol" if after_headers else "connect"
            return FetchError(kind, msg, transient=True)
        if isinstance(cause, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
            return FetchError("invalid_url", msg, transient=False)
        if isinstance(cause, aiohttp.ClientResponseError):
            # Unparseable response (e.g. an 8 KiB+ header line): the server is broken, not busy.
            return FetchError("protocol", msg, transient=False)
        return FetchError("protocol", msg, transient=True)
    if isinstance(cause, httpx.ConnectTimeout):
        return FetchError("timeout", msg, transient=True)
    if isinstance(cause, httpx.TimeoutException):
        return FetchError("timeout", msg, transient=True)
    if isinstance(cause, httpx.ConnectError):
        return FetchError("connect", msg, transient=True)
    if isinstance(cause, httpx.UnsupportedProtocol):
        return FetchError("scheme_refused", msg, transient=False)
    if isinstance(cause, httpx.InvalidURL):
        return FetchError("invalid_url", msg, transient=False)
    if isinstance(cause, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return FetchError("protocol", msg, transient=True)
    if isinstance(cause, httpx.HTTPError):
        return FetchError("protocol", msg, transient=False)
    if isinstance(cause, OSError):
        return FetchError("protocol" if after_headers else "connect", msg, transient=True)
    return FetchError("protocol", f"{type(cause).__name__}: {msg}", transient=False)


def _header_fields(headers: httpx.Headers) -> dict[str, str]:
    """Lower-cased name → value, a repeated header's values joined by ", " as httpx's `get` does:
    one pass, where each `Headers.get` scans and decodes the whole list again."""
    fields: dict[str, str] = {}
    for name, value in headers.multi_items():
        known = fields.get(name)
        fields[name] = value if known is None else f"{known}, {value}"
    return fields


def _check_status(code: int) -> None:
    """A final status must be three digits, 2xx–5xx (RFC 9110 §15): "000", "099" or "600" is a
    broken server, not an answer, and would otherwise be stored as a page like a 200."""
    if not 200 <= code <= 599:
        raise FetchError("protocol", f"invalid HTTP status {code:03d}", transient=False)


class _CookiesWhenSet(httpx.Cookies):
    """Asks the jar for a request's cookies only when it holds any: building the request view
    that http.cookiejar wants is most of the cost, and most crawls hold no cookie. (A response
    is given to the jar only when it sets one: see Fetcher._send.)"""

    jar: BoundedCookieJar

    def set_cookie_header(self, request: httpx.Request) -> None:
        if self.jar.holds_cookies():
            super().set_cookie_header(request)


def _accept_any(url: str, /) -> str | None:
    return None


def _want_any(content_type: str, /) -> bool:
    return True  # servers label robots.txt anything from text/plain to application/octet-stream


class Fetcher:
    """Fetches pages for one crawl. Not thread-safe; use from one event loop."""

    def __init__(
        self,
        *,
        concurrency: int,
        user_agent: str,
        request_timeout: float,
        max_body_bytes: int,
        allow_private: bool,
        max_redirects: int = 10,
        transport: httpx.AsyncBaseTransport | None = None,
        secret_headers: Mapping[str, str] | None = None,
        secret_origin: str | None = None,
        trust_env: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be ≥ 1")
        if request_timeout <= 0:
            raise ValueError("request_timeout must be > 0")
        if max_body_bytes < 0 or max_redirects < 0:
            raise ValueError("max_body_bytes and max_redirects must be ≥ 0")
        self.request_timeout = request_timeout
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self.addresses = AddressPolicy(allow_private=allow_private)
        self._secret_headers = dict(secret_headers) if secret_headers else None
        self._secret_origin: tuple[str, str, int | None] | None = None
        self._secret_cookie = any(k.lower() == "cookie" for k in self._secret_headers or ())
        # Request headers a stored request head leaves out (credentials: see http_heads.py).
        self._unrecorded = ALWAYS_UNRECORDED | {k.lower() for k in self._secret_headers or ()}
        if self._secret_headers:
            if not secret_origin:
                raise ValueError("secret_headers need a secret_origin")
            self._secret_origin = _origin(httpx.URL(secret_origin))
        if transport is None:
            transport = self._aiohttp_transport(
                concurrency, request_timeout, trust_env, ssl_context
            )
        # The client's work is done here, once, instead of by httpx.AsyncClient on every send:
        # its layers (auth, redirect and hook wrappers, request building, cookie merging, stream
        # wrapping) were a tenth of a fetch worker's time, and we use none of what they offer:
        # redirects are ours, the bounded jar is the one jar, there is no auth or proxy.
        self._transport = transport
        self._cookies = _CookiesWhenSet(BoundedCookieJar())  # a site must not grow our requests
        self._headers = httpx.Headers(
            {
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                # Only what BoundedDecoder can bound; servers may still send anything.
                "Accept-Encoding": ", ".join(SUPPORTED_ENCODINGS),
                "Connection": "keep-alive",
                "User-Agent": user_agent,
            }
        )
        self._secret_merged: httpx.Headers | None = None
        if self._secret_headers:
            self._secret_merged = self._headers.copy()
            self._secret_merged.update(self._secret_headers)
        # httpx.Timeout(request_timeout) as a request extension, which transports read per phase.
        self._timeouts = httpx.Timeout(request_timeout).as_dict()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    def _aiohttp_transport(
        self,
        concurrency: int,
        request_timeout: float,
        trust_env: bool,
        ssl_context: ssl.SSLContext | None,
    ) -> httpx.AsyncBaseTransport:
        from .aiohttp_transport import AiohttpTransport

        policy = self.addresses
        verify = ssl_context if ssl_context is not None else shared_ssl_context()

        def make_session() -> aiohttp.ClientSession:
            # Built lazily, on the first request, inside the running loop (aiohttp requires one).
            connector = aiohttp.TCPConnector(
                limit=concurrency,  # the keep-alive pool: one connection per concurrent fetch
                resolver=policy,  # connect only to addresses the policy checked (no rebinding)
                use_dns_cache=False,  # the policy caches for the fetcher's life
                keepalive_timeout=15.0,
                ssl=verify,
            )
            return aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # BoundedDecoder is the only decoder
                cookie_jar=aiohttp.DummyCookieJar(),  # the Fetcher's bounded jar is the one jar
                trust_env=trust_env,
            )

        # httpx's per-phase timeouts as httpx-aiohttp mapped them: connect, each read, and the
        # wait for a pooled connection; the Fetcher's overall deadline bounds them all.
        timeout = aiohttp.ClientTimeout(
            sock_connect=request_timeout, sock_read=request_timeout, connect=request_timeout
        )
        return AiohttpTransport(make_session, timeout)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _target(self, url: str | httpx.URL) -> httpx.URL:
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError("invalid_url", f"invalid URL: {exc}", transient=False) from None
        if parsed.scheme not in ALLOWED_SCHEMES:
            shown = parsed.scheme or "relative"
            raise FetchError("scheme_refused", f"scheme not allowed: {shown}", transient=False)
        if not parsed.host:
            raise FetchError("invalid_url", "URL has no host", transient=False)
        return parsed

    async def fetch(
        self,
        url: str,
        *,
        url_check: Callable[[str], str | None] = _accept_any,
        want_body: Callable[[str], bool],
        max_redirects: int | None = None,
        max_body_bytes: int | None = None,
        truncate: bool = False,
        hop_check: Callable[[str], Awaitable[str | None]] | None = None,
        conditional: Mapping[str, str] | None = None,
    ) -> FetchResponse:
        """GET url, following redirects by hand. Raises FetchError; HTTP statuses are returned.

        url_check(target) is asked about every redirect target (the caller already vetted `url`)
        and returns a refusal reason or None. hop_check(target), awaited on every hop after
        url_check, may refuse with a reason (kind "redirect") or raise its own FetchError (robots
        of the hop's origin). want_body(content_type) decides whether the final
        body is read at all. With truncate=True a body past the cap is cut instead of refused
        (robots.txt: RFC 9309 asks for the first 500 KiB). `conditional` (If-None-Match,
        If-Modified-Since: a recrawl's) goes with the first request only: the validators are
        those of `url`, not of where it may redirect.
        """
        started = time.perf_counter()
        redirects: list[str] = []
        first_hop: tuple[bytes, bytes] | None = None
        limit = self.max_redirects if max_redirects is None else max_redirects
        cap = self.max_body_bytes if max_body_bytes is None else max_body_bytes
        try:
            async with asyncio.timeout(self.request_timeout):
                current = self._target(url)
                extra = conditional
                while True:
                    response, fields = await self._send(current, extra)
                    extra = None
                    try:
                        _check_status(response.status_code)
                        location = (
                            fields.get("location")
                            if response.status_code in REDIRECT_STATUSES
                            else None
                        )
                        if location is not None:
                            # Never read a redirect body: it may be 300 MB or a gzip bomb.
                            if len(redirects) >= limit:
                                raise FetchError(
                                    "redirect_limit",
                                    f"more than {limit} redirects",
                                    transient=False,
                                )
                            if first_hop is None:
                                first_hop = self._heads(response)
                            current = self._next_hop(current, location, url_check)
                            redirects.append(str(current))
                            if hop_check is not None:
                                # Free the connection first: the check may fetch the hop's
                                # robots.txt, and a full pool would wait on itself.
                                await response.aclose()
                                # e.g. the target is already stored: following would fetch it
                                # a second time under another name. It may raise FetchError.
                                known = await hop_check(str(current))
                                if known is not None:
                                    raise FetchError("redirect", known, transient=False)
                            continue  # _send checks the new hop's address before sending
                        result = await self._finish(
                            url,
                            current,
                            response,
                            fields,
                            redirects,
                            started,
                            want_body,
                            cap,
                            truncate,
                        )
                        result.request_head, result.response_head = self._heads(response)
                        result.first_hop = first_hop
                        return result
                    finally:
                        await response.aclose()
        except FetchError as exc:
            exc.redirects = redirects
            raise
        except TimeoutError:
            err = _timeout_error(self.request_timeout)
        except (AddressRefused, ResolveFailed) as exc:
            err = _map_transport_error(exc, after_headers=False)
        except BodyTooLarge as exc:
            err = FetchError("too_large", str(exc), transient=False)
        except UnsupportedEncoding as exc:
            err = FetchError("encoding", str(exc), transient=False)
        except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
            err = _map_transport_error(exc, after_headers=False)
        err.redirects = redirects
        raise err

    async def fetch_robots(self, url: str, *, max_redirects: int, max_bytes: int) -> FetchResponse:
        """GET a robots.txt (`robots.RobotsSource`): redirects may leave the site (RFC 9309
        §2.3.1.2), any content type is read, and a body past `max_bytes` is cut, not refused."""
        return await self.fetch(
            url,
            want_body=_want_any,
            max_redirects=max_redirects,
            max_body_bytes=max_bytes,
            truncate=True,
        )

    def _heads(self, response: httpx.Response) -> tuple[bytes, bytes]:
        return request_head(response.request, self._unrecorded), response_head(response)

    async def _send(
        self, target: httpx.URL, extra: Mapping[str, str] | None = None
    ) -> tuple[httpx.Response, dict[str, str]]:
        """The response, and its headers read once (see _header_fields)."""
        # Checked before every send; with the aiohttp transport the connector's resolver is the
        # same policy object, so the connection uses exactly these addresses.
        await self.addresses.check(target.raw_host.decode("ascii"))
        headers = self._headers
        secret = self._secret_merged is not None and _origin(target) == self._secret_origin
        if secret:
            assert self._secret_merged is not None
            headers = self._secret_merged
        if extra:
            headers = headers.copy()
            headers.update(extra)
        request = httpx.Request("GET", target, headers=headers)
        request.extensions["timeout"] = self._timeouts
        if not (secret and self._secret_cookie):
            # The bounded jar caps what one request carries. (A user's --cookie is a secret
            # header: it then replaces the jar, as httpx's client did.)
            self._cookies.set_cookie_header(request)
        response = await self._transport.handle_async_request(request)
        response.request = request
        fields = _header_fields(response.headers)
        if "set-cookie" in fields:
            # Only then: building the request and response views that http.cookiejar wants
            # cost a twentieth of a fetch worker's time for responses that set nothing.
            self._cookies.extract_cookies(response)
        return response, fields

    def _next_hop(
        self, current: httpx.URL, location: str, url_check: Callable[[str], str | None]
    ) -> httpx.URL:
        try:
            target = current.join(location.strip())
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(
                "invalid_url", f"invalid redirect target: {exc}", transient=False
            ) from None
        if target.scheme not in ALLOWED_SCHEMES:
            raise FetchError(
                "scheme_refused",
                f"redirect to a {target.scheme or 'relative'}: URL refused",
                transient=False,
            )
        if not target.host:
            raise FetchError("invalid_url", "redirect target has no host", transient=False)
        target = target.copy_with(fragment=None)
        reason = url_check(str(target))
        if reason is not None:
            raise FetchError("redirect_refused", f"redirect refused: {reason}", transient=False)
        return target

    async def _finish(
        self,
        url: str,
        final: httpx.URL,
        response: httpx.Response,
        raw_headers: dict[str, str],
        redirects: list[str],
        started: float,
        want_body: Callable[[str], bool],
        cap: int,
        truncate: bool,
    ) -> FetchResponse:
        content_type, charset = _parse_content_type(raw_headers.get("content-type", ""))
        kept = {
            name: value for name in KEPT_HEADERS if (value := raw_headers.get(name)) is not None
        }
        body: bytes | None = None
        skipped = not want_body(content_type)
        cut = False
        if not skipped:
            decoder = BoundedDecoder(
                # httpx's get_list(split_commas=True), empty items included
                [c.strip() for c in codings.split(",")]
                if (codings := raw_headers.get("content-encoding")) is not None
                else [],
                cap,
                truncate=truncate,
            )
            declared = raw_headers.get("content-length")
            if (
                not truncate
                and decoder.encoding == "identity"
                and declared is not None
                and declared.isdigit()
                and int(declared) > cap
            ):
                # Refuse before reading a byte when the server announces too much.
                raise BodyTooLarge(cap)
            try:
                compressed = decoder.encoding != "identity"
                # The transport's stream itself, not httpx's aiter_raw, which re-chunks and wraps
                # every chunk in an exception-mapping context: errors are mapped below.
                stream = response.stream
                assert isinstance(stream, httpx.AsyncByteStream)
                async for chunk in stream:
                    if compressed:
                        # A few compressed bytes can decode to the whole cap in one call (a
                        # gzip bomb decoding to 10 MiB): off the loop, which must not stall.
                        # zlib, brotli and zstd release the GIL while they decode.
                        await asyncio.to_thread(decoder.feed, chunk)
                    else:
                        decoder.feed(chunk)
                body = decoder.finish()
            except BodyTooLarge:
                if not truncate:
                    raise
                body, cut = decoder.partial(), True
            except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
                # Mid-body: a reset here is a broken response, not an unreachable host.
                raise _map_transport_error(exc, after_headers=True) from exc
        return FetchResponse(
            url=url,
            final_url=str(final),
            status_code=response.status_code,
            content_type=content_type,
            charset=charset,
            headers=kept,
            body=body,
            redirects=redirects,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            body_skipped=skipped,
            truncated=cut,
        )
