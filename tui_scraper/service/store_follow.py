"""Follow a session that a worker elsewhere runs, from the store alone (no channel reaches it).

On PostgreSQL a session may be run by a worker on another machine, or only by joined workers
that serve no channel at all; whoever follows it from here reads the database, which is the
truth: the session's record (status, stored progress), who holds its lease, and its newest
finished pages. A change feed wakes the follower (LISTEN/NOTIFY: every checkpoint and state
change sends a hint) and a slow poll stands behind it, so a missed hint or a restarted server
never freezes the view. Reads are coalesced to at most `hz` a second, and a snapshot is handed
out only when something moved.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Final, Protocol

from tui_scraper.domain import PageRecord, PageStatus, SessionRecord, Status
from tui_scraper.domain.errors import ScraperError
from tui_scraper.ports import ChangeFeed, WakeReason

from . import DEFAULT_WATCH_HZ, ProgressSnapshot

# Without a hint, the store is read again this often: the bound on how stale the view can be
# when hints are lost (a restarted server, a dropped connection).
POLL_S: Final = 2.0
# The newest finished pages read each time (the live screen shows a dozen or so).
RECENT_LIMIT: Final = 50
# The errors of failed pages seen so far, at most this many (as the live stats keep).
MAX_ERRORS: Final = 200
# Nobody holding the lease ends the follow only once it has lasted this long: a restarted
# server drops the workers' lock connections, and each takes its lock again at its next
# renewal (a third of the 30 s lease), so a shorter absence is not a death.
GONE_GRACE_S: Final = 12.0
# Seconds of pages/s history, one bar a second (as the live stats keep).
RATE_WINDOW_S: Final = 60

LeaseAsk = Callable[[str], Awaitable[dict[str, object] | None]]


class FollowedStore(Protocol):
    """What the follower reads (the session manager's store)."""

    async def get_session(self, session_id: str) -> SessionRecord: ...

    async def recent_pages(self, session_id: str, limit: int) -> list[PageRecord]: ...

    async def change_feed(self, session_id: str) -> ChangeFeed: ...


@dataclass(frozen=True)
class StoredRecentPage:
    """A finished page as the store keeps it (`service.RecentPage`)."""

    url: str
    status: str
    http_status: int | None
    title: str | None
    size: int | None
    elapsed_ms: float | None
    at: float


def _recent(page: PageRecord) -> StoredRecentPage:
    return StoredRecentPage(
        url=page.url,
        status=page.status.value,
        http_status=page.http_status,
        title=page.title,
        size=page.size,
        elapsed_ms=page.elapsed_ms,
        at=page.fetched_at or 0.0,
    )


def _error_text(page: PageRecord) -> str:
    message = (page.error or {}).get("message") or (page.error or {}).get("kind") or "failed"
    return f"{page.url}: {message}"


class _RateHistory:
    """Pages finished per second, from the growth of the stored counters between reads."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._finished: int | None = None
        self._buckets: dict[int, int] = {}

    def add(self, finished: int) -> None:
        if self._finished is not None and finished > self._finished:
            second = int(self._clock())
            self._buckets[second] = self._buckets.get(second, 0) + finished - self._finished
            for old in [s for s in self._buckets if s <= second - RATE_WINDOW_S]:
                del self._buckets[old]
        self._finished = finished

    def history(self) -> tuple[int, ...]:
        now = int(self._clock())
        return tuple(self._buckets.get(s, 0) for s in range(now - RATE_WINDOW_S + 1, now + 1))


class StoreFollower:
    """`async for snapshot in StoreFollower(store, lease_holder, id):` — snapshots of a session
    run elsewhere, read from the store, until it stops running (a last snapshot with the final
    status) or nobody holds its lease any more (the watch just ends: the caller settles it).

    `wakes` counts why each wait ended (`ports.WakeReason`), `last_wake` is the latest, and
    `waiting` says it waits now: how a test tells a notified read from a polled one without
    timing it.
    """

    def __init__(
        self,
        store: FollowedStore,
        lease_holder: LeaseAsk,
        session_id: str,
        *,
        hz: float = DEFAULT_WATCH_HZ,
        poll_s: float = POLL_S,
        gone_grace_s: float = GONE_GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._lease_holder = lease_holder
        self.session_id = session_id
        self._period = 1.0 / hz if hz > 0 else 1.0 / DEFAULT_WATCH_HZ
        self._poll_s = poll_s
        self._gone_grace_s = gone_grace_s
        self._holderless_since: float | None = None
        self._rates = _RateHistory(clock)
        self._errors: deque[str] = deque(maxlen=MAX_ERRORS)
        self._failed_seen: deque[int] = deque(maxlen=MAX_ERRORS * 4)
        self._seq = 0
        self._shown: object = None
        self._last: ProgressSnapshot | None = None
        self.last_wake: WakeReason | None = None
        self.wakes: dict[str, int] = {}
        self.reads = 0
        # True while it waits for a hint or the poll (nothing read is pending).
        self.waiting = False

    def __aiter__(self) -> AsyncIterator[ProgressSnapshot]:
        return self._follow()

    async def _follow(self) -> AsyncIterator[ProgressSnapshot]:
        loop = asyncio.get_running_loop()
        feed = await self._store.change_feed(self.session_id)
        last: ProgressSnapshot | None = None
        try:
            while True:
                read_at = loop.time()
                try:
                    snapshot, running = await self._read()
                except ScraperError:
                    # The store is out of reach past its own waiting: keep the last figures,
                    # marked stale until the next poll, and try again then.
                    if last is not None:
                        yield replace(last, reconnect_in=self._poll_s)
                    snapshot, running = None, True
                if snapshot is not None:
                    if snapshot is not last:
                        last = snapshot
                        yield snapshot
                    if not snapshot.live:
                        return
                if not running:
                    return  # nobody holds the lease: the worker is gone
                await self._wait(feed, read_at)
        finally:
            await feed.close()

    async def _wait(self, feed: ChangeFeed, read_at: float) -> None:
        """Until a hint or the poll, then at least a period after the last read (coalesced)."""
        loop = asyncio.get_running_loop()
        self.waiting = True
        try:
            reason = await feed.wait(self._poll_s)
        finally:
            self.waiting = False
        self.last_wake = reason
        self.wakes[reason] = self.wakes.get(reason, 0) + 1
        rest = self._period - (loop.time() - read_at)
        if rest > 0:
            await asyncio.sleep(rest)

    async def _read(self) -> tuple[ProgressSnapshot | None, bool]:
        """The session as stored now (the same object as before when nothing moved), and
        whether it still runs under a live worker."""
        self.reads += 1
        record = await self._store.get_session(self.session_id)
        running = record.status is Status.RUNNING
        if running and await self._lease_holder(self.session_id) is None:
            now = time.monotonic()
            if self._holderless_since is None:
                self._holderless_since = now
            if now - self._holderless_since >= self._gone_grace_s:
                return None, False
            return self._last, True  # nothing held now: the last figures until it is clear
        self._holderless_since = None
        pages = await self._store.recent_pages(self.session_id, RECENT_LIMIT)
        for page in reversed(pages):  # oldest first, as errors arrive
            if page.status is PageStatus.FAILED and page.id not in self._failed_seen:
                self._failed_seen.append(page.id)
                self._errors.append(_error_text(page))
        p = record.progress
        self._rates.add(p.done + p.failed + p.skipped)
        recent = tuple(_recent(page) for page in reversed(pages))
        key = (record.status, p.to_dict(), tuple(page.id for page in pages), len(self._errors))
        if key == self._shown and self._last is not None:
            return self._last, running
        self._shown = key
        self._seq += 1
        self._last = ProgressSnapshot(
            session_id=record.id,
            target_url=record.target_url,
            status=record.status,
            progress=p,
            max_pages=record.config.max_pages,
            recent=recent,
            errors=tuple(self._errors),
            rate_history=self._rates.history(),
            seq=self._seq,
            live=running,
            host_states=tuple(sorted(p.host_states.items())),
        )
        return self._last, running


async def follow_store(
    store: FollowedStore,
    lease_holder: LeaseAsk,
    session_id: str,
    *,
    hz: float = DEFAULT_WATCH_HZ,
    poll_s: float = POLL_S,
) -> AsyncIterator[ProgressSnapshot]:
    """The snapshots of `StoreFollower` (a plain async iterator for the service's callers)."""
    async for snapshot in StoreFollower(store, lease_holder, session_id, hz=hz, poll_s=poll_s):
        yield snapshot
