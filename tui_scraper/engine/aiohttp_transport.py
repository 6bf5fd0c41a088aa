"""An httpx transport over one aiohttp.ClientSession, with nothing between the two but the
conversion of a request and a response.

httpx-aiohttp's transport (which this replaces) wraps every request and every body chunk in an
exception-mapping context, builds an aiohttp.ClientTimeout per request, copies the request's
headers through httpx's Headers view and re-parses the response's; about a fifth of a fetch
worker's time went to httpx's layers and that conversion. Here:

- aiohttp's own exceptions propagate unchanged: `Fetcher` maps them to FetchError kinds itself
  (it looked at their `__cause__` under the old transport);
- the ClientTimeout is built once, from the Fetcher's per-phase timeouts;
- the request's headers go to aiohttp as a plain dict, the response's raw header bytes straight
  into httpx.Response;
- the body is streamed as aiohttp receives it (`iter_any`), with no re-chunking: the caller's
  BoundedDecoder enforces the byte cap on every chunk.

Only GET without a body is supported: that is all a crawl sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx
import yarl

__all__ = ["AiohttpTransport"]


class _ResponseStream(httpx.AsyncByteStream):
    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_any():
            yield chunk

    async def aclose(self) -> None:
        # Returns the connection to the pool when the body was read to its end, and closes it
        # otherwise (a body we refused, or left unread): never a half-read keep-alive socket.
        self._response.release()
        await self._response.wait_for_close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """`make_session` is called on the first request, inside the running loop (aiohttp needs
    one to build a session)."""

    def __init__(
        self, make_session: Callable[[], aiohttp.ClientSession], timeout: aiohttp.ClientTimeout
    ) -> None:
        self._make_session = make_session
        self._session: aiohttp.ClientSession | None = None
        self._timeout = timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            raise httpx.UnsupportedProtocol(f"{request.method} is not supported here")
        session = self._session
        if session is None:
            session = self._session = self._make_session()
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in request.headers.raw
        }
        response = await session.request(
            "GET",
            # httpx's URL is already percent-encoded and IDNA-encoded: yarl need not redo it.
            yarl.URL(str(request.url), encoded=True),
            headers=headers,
            allow_redirects=False,
            auto_decompress=False,
            compress=False,
            timeout=self._timeout,
        )
        major, minor = response.version or (1, 1)
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response),
            request=request,
            # The status line as received, for the response head a WARC record keeps.
            extensions={
                "http_version": b"HTTP/%d.%d" % (major, minor),
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
