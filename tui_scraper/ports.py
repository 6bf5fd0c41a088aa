"""What the crawl engine needs from a session store, and nothing more.

The engine is typed against this Protocol, not the concrete SQLite `Store`: any store that keeps
the resume invariants (a batch of results and their links commit in one transaction, claimed rows
go back with `requeue_fetching`) can run a crawl. Only domain records cross it, never a connection
or a cursor. (`checkpoint` here is the store's name for one batch commit, not a WAL checkpoint.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .domain.progress import Progress
from .domain.records import ClaimedPage, PageRecord, PageResult
from .domain.status import PageStatus

__all__ = ["CrawlStore"]


class CrawlStore(Protocol):
    def add_wait_listener(self, listener: Callable[[str], None]) -> None: ...

    def remove_wait_listener(self, listener: Callable[[str], None]) -> None: ...

    async def claim_batch(self, session_id: str, limit: int, now: float) -> list[ClaimedPage]: ...

    async def next_due_time(self, session_id: str) -> float | None: ...

    async def requeue_fetching(self, session_id: str) -> int: ...

    async def requeue_lost_content(self, session_id: str) -> int: ...

    async def checkpoint(
        self,
        session_id: str,
        results: Sequence[PageResult],
        progress: Progress,
        *,
        heartbeat: float,
        max_pages: int | None = None,
    ) -> int: ...

    async def page_status(self, session_id: str, url: str) -> PageStatus | None: ...

    async def page_counts(self, session_id: str) -> dict[PageStatus, int]: ...

    async def seed_page(self, session_id: str) -> PageRecord | None: ...

    async def add_event(self, session_id: str, kind: str, reason: str, *, who: str) -> None: ...
