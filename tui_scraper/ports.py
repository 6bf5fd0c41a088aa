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


# --- control: commands to a running session, recorded durably ---
# Imported here, not at the top: this block is appended to the file as one unit.
from collections.abc import Mapping  # noqa: E402
from typing import Any  # noqa: E402

from .domain.records import ControlCommand, ControlRecord  # noqa: E402

__all__ += ["ControlPort"]


class ControlPort(Protocol):
    """Commands to a session that outlive the process that sent them.

    A client posts (`pause`, `resume`, `cancel`, `interrupt`, or `set` with a small JSON object
    of settings); the session's worker, in whatever process or machine holds its lease, lists
    the pending ones after the last id it handled, acts, and marks each applied with what it
    did. Ids grow in posting order and are never reused. Marking is a compare-and-set, so a
    command is applied once even when two workers race for it.

    A worker that passes the last id it handled as `after_id` relies on ids becoming visible in
    the order they were given out: SQLite serialises its writers, so that holds there; a backend
    whose ids can commit out of order must make it hold (or its workers pass `after_id=0`, which
    lists every command not yet applied).
    """

    async def post_control(
        self,
        session_id: str,
        command: ControlCommand | str,
        *,
        who: str,
        args: Mapping[str, Any] | None = None,
    ) -> ControlRecord: ...

    async def pending_controls(
        self, session_id: str, *, after_id: int = 0, limit: int = 100
    ) -> list[ControlRecord]: ...

    async def get_control(self, control_id: int) -> ControlRecord: ...

    async def mark_control_applied(self, control_id: int, *, outcome: str) -> bool: ...
