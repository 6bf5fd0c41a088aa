"""Incremental recrawl: conditional requests against what an earlier session stored.

A session whose config names `recrawl_of` asks the server, for every URL that session stored
with a validator, "changed since?" (If-None-Match with its ETag, If-Modified-Since with its
Last-Modified). The coordinator looks the validators up once per claimed batch
(`PreviousContents.load`, one store query) and hands each page's to its fetch request. A 304
("not modified") is answered by the fetch worker with the earlier stored body, parsed as if it
had just arrived: the row is `done` with http_status 304 and names the same content-addressed
blob, and its links and fields come out exactly as before, so discovery goes on past it.

Light on purpose: the fetch workers import it, and so does the coordinator, which loads no HTTP
client or parser.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.records import ClaimedPage, PreviousPage
from ..ports import PreviousPages
from .classify import is_html
from .fetch_types import FetchResponse

__all__ = [
    "NOT_MODIFIED",
    "PreviousContents",
    "as_unchanged",
    "conditional_headers",
]

NOT_MODIFIED = 304


def conditional_headers(previous: PreviousPage) -> dict[str, str]:
    """The conditions of a request for a page stored as `previous` (RFC 9110 §13.1): a server
    that honours If-None-Match ignores If-Modified-Since, so sending both is safe."""
    headers: dict[str, str] = {}
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    return headers


def as_unchanged(response: FetchResponse, previous: PreviousPage) -> FetchResponse:
    """A 304 filled in from the stored page: a 304 carries no body and often no Content-Type,
    and need not repeat the validators (RFC 9110 §15.4.5), which stay the stored ones then."""
    if not response.content_type:
        response.content_type = previous.content_type or "text/html"
    if response.charset is None:
        response.charset = previous.encoding
    if previous.etag and "etag" not in response.headers:
        response.headers["etag"] = previous.etag
    if previous.last_modified and "last-modified" not in response.headers:
        response.headers["last-modified"] = previous.last_modified
    return response


class PreviousContents:
    """The coordinator's side: for the pages of each claimed batch, what the earlier session
    stored under the same URLs. An entry is taken once, when its page is processed; a page that
    goes back to the queue is looked up again with its next claim."""

    def __init__(self, store: PreviousPages, previous_session_id: str) -> None:
        self._store = store
        self.previous_session_id = previous_session_id
        self._pending: dict[str, PreviousPage] = {}

    async def load(self, claimed: Sequence[ClaimedPage]) -> None:
        urls = [page.url for page in claimed]
        if not urls:
            return
        found = await self._store.previous_pages(self.previous_session_id, urls)
        for url, previous in found.items():
            # HTML pages only: a download's 304 would need its download row too, and a page
            # without a validator cannot be asked about.
            if is_html(previous.content_type) and (previous.etag or previous.last_modified):
                self._pending[url] = previous

    def take(self, url: str) -> PreviousPage | None:
        return self._pending.pop(url, None)

    def __len__(self) -> int:
        return len(self._pending)
