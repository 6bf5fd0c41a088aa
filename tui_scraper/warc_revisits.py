"""What a recrawl's WARC revisit records refer to: for each page that answered 304, the earlier
capture whose payload was actually recorded.

A 304 row of a session crawled with `recrawl_of` names the content the earlier session stored
under the same URL. That earlier page may itself be a 304 of a recrawl (a recrawl of a
recrawl), whose own record is a revisit without a payload; so the lookup walks the chain of
`recrawl_of` sessions back to the page that answered with the body (a 200), and a revisit
names that one: its URL and fetch time are the response record's WARC-Target-URI and
WARC-Date in that session's WARC, so a replay tool finds the payload in one step.

Batched: one store query per batch of pages per session of the chain (never one per page),
and nothing of any session is held beyond the batch. A page with no such capture (the earlier
session deleted, the page gone from it, or naming other content) gets no reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from .domain.errors import ScraperError
from .domain.records import EarlierCapture, PageRecord, SessionRecord
from .domain.status import PageStatus

__all__ = ["CHAIN_RULE", "EarlierCaptureSource", "RevisitReferences"]

NOT_MODIFIED: Final = 304
CHAIN_RULE: Final = (
    "a revisit of a recrawl refers to the earlier capture whose payload was recorded: the "
    "recrawl_of chain is followed past earlier 304s to the page that answered with the body"
)


class EarlierCaptureSource(Protocol):
    async def get_session(self, session_id: str) -> SessionRecord: ...

    async def earlier_captures(
        self, session_id: str, urls: Sequence[str]
    ) -> dict[str, EarlierCapture]: ...


class RevisitReferences:
    """The earlier captures of one session's 304 pages, looked up batch by batch."""

    def __init__(self, store: EarlierCaptureSource, session: SessionRecord) -> None:
        self._store = store
        self._first = session.config.recrawl_of
        # session id -> the session it was recrawled from (None: the chain ends there)
        self._parents: dict[str, str | None] = {session.id: self._first}

    async def lookup(self, pages: Sequence[PageRecord]) -> dict[str, EarlierCapture]:
        """For each 304 page of the batch, the earlier capture with its payload (by URL)."""
        wanted = {
            page.url: page.storage_path
            for page in pages
            if page.http_status == NOT_MODIFIED
            and page.status is PageStatus.DONE
            and page.storage_path is not None
        }
        found: dict[str, EarlierCapture] = {}
        source = self._first
        visited: set[str] = set()
        while wanted and source is not None and source not in visited:
            visited.add(source)
            captures = await self._store.earlier_captures(source, list(wanted))
            further: dict[str, str] = {}
            for url, storage_path in wanted.items():
                capture = captures.get(url)
                if capture is None or capture.storage_path != storage_path:
                    continue  # not there, or other content: no capture holds this payload
                if capture.http_status == NOT_MODIFIED:
                    further[url] = storage_path
                else:
                    found[url] = capture
            wanted = further
            source = await self._parent(source) if wanted else None
        return found

    async def _parent(self, session_id: str) -> str | None:
        if session_id not in self._parents:
            try:
                session = await self._store.get_session(session_id)
            except ScraperError:  # deleted since: the chain ends here
                self._parents[session_id] = None
            else:
                self._parents[session_id] = session.config.recrawl_of
        return self._parents[session_id]
