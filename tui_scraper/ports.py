"""What the engine and the runtime need from storage, grouped by job, and nothing more.

The engine and the runtime are typed against these Protocols, never a concrete store: any store
that keeps the resume invariants (a batch of results and their links commit in one transaction,
claimed rows go back with `requeue_fetching`) can run a crawl. Only domain records cross them,
never a connection, a cursor or a database file. (`checkpoint` is one batch commit, not a WAL
checkpoint.)

Two composed Protocols name what each consumer needs: `EngineStore` (the crawler and its parts)
and `RuntimeStore` (the code that runs one session: the engine's needs plus the session's state,
its summary and the lease).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from .domain.analytics import AnalyticsRow
from .domain.config import CrawlConfig
from .domain.progress import Progress
from .domain.records import (
    ClaimedPage,
    ControlCommand,
    ControlRecord,
    EarlierCapture,
    EventRecord,
    HostStart,
    LeaseOwner,
    PageRecord,
    PageResult,
    PageState,
    PreviousPage,
    SessionRecord,
)
from .domain.schedules import QueueEntry, RunOutcome, ScheduleRecord, ScheduleRun, ScheduleSpec
from .domain.status import PageStatus, Status

__all__ = [
    "Analytics",
    "AnalyticsTally",
    "BlobReader",
    "BlobWriter",
    "Blobs",
    "ChangeFeed",
    "ControlPort",
    "EarlierCaptures",
    "EngineStore",
    "Events",
    "Frontier",
    "HostPacing",
    "Lease",
    "PageStates",
    "PlanningStore",
    "PreviousPages",
    "ProgressFeed",
    "QueuePort",
    "RuntimeStore",
    "SchedulesPort",
    "SessionSecrets",
    "SessionStore",
    "Sessions",
    "WaitSignals",
    "WakeReason",
]


# Counts the results a checkpoint writes into analytics rows (engine/analytics.py's `tally`):
# the store calls it with exactly the results it commits, and adds the rows in that transaction.
AnalyticsTally = Callable[[Sequence[PageResult], float], list[AnalyticsRow]]


class Sessions(Protocol):
    """A session's record, its state machine and the summary written when it completes."""

    async def get_session(self, session_id: str) -> SessionRecord: ...

    async def transition(
        self,
        session_id: str,
        wanted: Status,
        *,
        reason: str,
        who: str,
        expected: Status | None = None,
        error: str | None = None,
    ) -> SessionRecord: ...

    async def set_summary(self, session_id: str, summary: dict[str, Any]) -> None: ...

    async def record_tuning(
        self, session_id: str, config: CrawlConfig, *, reason: str, who: str
    ) -> SessionRecord:
        """Live tuning: `config` becomes the session's stored config (a resume crawls with it)
        and a `tuned` event with `reason` joins its timeline, in one transaction."""
        ...


class Frontier(Protocol):
    """The pages of a session: what is due, what is claimed, and the batch commit of results."""

    async def seed_page(self, session_id: str) -> PageRecord | None: ...

    async def claim_batch(self, session_id: str, limit: int, now: float) -> list[ClaimedPage]: ...

    async def requeue_fetching(self, session_id: str) -> int:
        """Claimed rows (of a run that stopped or died) go back to the queue; returns how many."""
        ...

    async def requeue_lost_content(self, session_id: str) -> int:
        """Done pages whose stored content is gone are queued again; returns how many."""
        ...

    async def checkpoint(
        self,
        session_id: str,
        results: Sequence[PageResult],
        progress: Progress,
        *,
        heartbeat: float,
        max_pages: int | None = None,
        tally: AnalyticsTally | None = None,
    ) -> int:
        """Results, their links, the progress and the run's heartbeat in one transaction; the
        blobs the results name are durable before it commits. Returns the new pages queued.
        With `tally`, the analytics rows of the results written are added in it too."""
        ...

    async def next_due_time(self, session_id: str) -> float | None: ...

    async def page_status(self, session_id: str, url: str) -> PageStatus | None: ...

    async def page_counts(self, session_id: str) -> dict[PageStatus, int]: ...

    def iter_pages(self, session_id: str) -> AsyncIterator[PageRecord]:
        """Every page of the session in id order (the completed crawl's summary reads them)."""
        ...


class Events(Protocol):
    """The session's timeline."""

    async def add_event(self, session_id: str, kind: str, reason: str, *, who: str) -> None: ...


class WaitSignals(Protocol):
    """Told when a write waits for a lock another process holds (shown with the progress)."""

    def add_wait_listener(self, listener: Callable[[str], None]) -> None: ...

    def remove_wait_listener(self, listener: Callable[[str], None]) -> None: ...


class Lease(Protocol):
    """Proof that one runner owns a running session. `acquire_run` refuses a second owner
    (SessionBusy) and moves the session to `running`; the heartbeat is written by every
    `checkpoint`; `release_run` drops the proof (the status is changed by `transition`)."""

    async def acquire_run(
        self, session_id: str, owner: LeaseOwner, *, who: str, reason: str
    ) -> SessionRecord: ...

    async def release_run(self, session_id: str) -> None: ...


@runtime_checkable
class SharedRuns(Protocol):
    """A store on which several workers run one session (PostgreSQL; SQLite has one worker per
    session). `join_run` registers this store as a worker of a running session;
    `conclude_run` is asked when its crawl runs dry: "leave" (another live worker finishes the
    session), "finish" (the last worker, nothing left: complete it), "more" (crawl on)."""

    async def join_run(self, session_id: str, owner: LeaseOwner, *, who: str) -> SessionRecord: ...

    async def conclude_run(self, session_id: str) -> Literal["finish", "leave", "more"]: ...


@runtime_checkable
class HostPacing(Protocol):
    """Politeness held for the whole session rather than per worker (PostgreSQL, where several
    workers crawl one session; a SQLite session has one worker and keeps its gate in memory).

    `reserve_host` grants one start on `host`, atomically for every worker of the session: None
    while `per_host` requests are in flight there over all of them (ask again later); else a
    HostStart counted as in flight, whose start is max(now, the host's next allowed time) on
    the store's clock, the next allowed time then moving on by the gap (1/rate from the
    session's stored config, so a live tuning reaches every worker, or `crawl_delay` when
    longer). `release_host` ends it, once however often it is asked. The starts of a worker
    that died are dropped, not left counted."""

    async def reserve_host(
        self, session_id: str, host: str, *, per_host: int, crawl_delay: float = 0.0
    ) -> HostStart | None: ...

    async def release_host(self, session_id: str, start: HostStart) -> None: ...


class BlobWriter(Protocol):
    """Writes one page's content where the store keeps it; returns (sha256 hex, storage path).

    Must be picklable and usable from any thread or process without the store open: the parse
    pool sends it once to each worker process, which writes the blobs itself. `sync=False`
    leaves durability to the `checkpoint` that names the blob.
    """

    def write(
        self, data: bytes, *, compress: bool = True, sync: bool = True
    ) -> tuple[str, str]: ...

    def read(self, relative_path: str) -> bytes:
        """The original bytes of a stored blob (a WARC export reads them); the backend's
        BlobError when it is missing or damaged."""
        ...


class Blobs(Protocol):
    @property
    def blobs(self) -> BlobWriter: ...


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


class PreviousPages(Protocol):
    """What an earlier session stored, for a recrawl's conditional requests (engine/recrawl.py)."""

    async def previous_pages(self, session_id: str, urls: Sequence[str]) -> dict[str, PreviousPage]:
        """For each of `urls` that `session_id` fetched and stored (status done, content
        stored), its validators and content; one query for the whole batch."""
        ...


class EarlierCaptures(Protocol):
    """The pages an earlier session stored under some URLs, for the WARC revisit records of a
    recrawl (export_warc.py): one query for the whole batch."""

    async def earlier_captures(
        self, session_id: str, urls: Sequence[str]
    ) -> dict[str, EarlierCapture]:
        """For each of `urls` that `session_id` has done with content stored (a 200, or a 304
        naming content stored before), when it was fetched, its status and its content."""
        ...


@runtime_checkable
class BlobReader(Protocol):
    """A blob writer that can also read back what it stored (both backends' can): a recrawl's
    fetch worker reads the earlier body of a page that answered 304."""

    def read(self, relative_path: str) -> bytes: ...


class PageStates(Protocol):
    """A session's pages in URL order (code point order on every backend), streamed: two such
    streams merge into the diff of two sessions without holding either in memory."""

    def iter_page_states(
        self, session_id: str, *, batch: int = 1000
    ) -> AsyncIterator[PageState]: ...


# Why a follower's wait ended: a hint that the session changed ("notify"), the poll interval
# passed or the hint channel is down ("poll"), the hint channel broke just now ("lost"), or
# hints were (re)subscribed and what happened before was missed ("listening"). Each means:
# read the session again.
WakeReason = Literal["notify", "poll", "lost", "listening"]


class ChangeFeed(Protocol):
    """Wake-ups for one session's follower: hints only, never the data (read that after)."""

    async def wait(self, timeout: float) -> WakeReason: ...

    async def close(self) -> None: ...


class ProgressFeed(Protocol):
    """What a client reads to follow a session that a worker elsewhere runs (no channel
    reaches it from here): the newest finished pages, who holds its lease, and wake-ups when
    it changes (LISTEN/NOTIFY on PostgreSQL; on SQLite a poll only)."""

    async def recent_pages(self, session_id: str, limit: int) -> list[PageRecord]:
        """The last `limit` pages finished, newest first."""
        ...

    async def lease_holder(self, session_id: str) -> dict[str, object] | None: ...

    async def change_feed(self, session_id: str) -> ChangeFeed: ...


class EngineStore(Frontier, Events, WaitSignals, Blobs, PreviousPages, Protocol):
    """Everything the crawler and its parts use."""


class RuntimeStore(EngineStore, Sessions, Lease, ControlPort, EarlierCaptures, Protocol):
    """Everything the code running one session uses (runtime/worker.py), commands included."""


class Analytics(Protocol):
    """A session's analytics rows, added up over every checkpoint (domain/analytics.py)."""

    async def analytics_rows(self, session_id: str) -> list[AnalyticsRow]: ...

    async def queued_by_host(self, session_id: str, limit: int = 50) -> dict[str, int]:
        """Pages queued or being fetched per host ("host[:port]"), the `limit` hosts with most.
        A scan of the session's waiting pages: for `stats` and the Analytics tab only."""
        ...


class SessionStore(RuntimeStore, PageStates, ProgressFeed, Analytics, Protocol):
    """Everything the runtime's session manager asks of a store, on any backend: the runner's
    needs plus the listing, lookup and reading of sessions and pages, the reaping of orphans,
    the check of stored content an export makes, and closing. `backends/open.py` hands one out
    for a `StoreLocation`."""

    @property
    def readonly(self) -> bool: ...

    async def close(self) -> None: ...

    async def create_session(self, config: CrawlConfig, *, who: str) -> SessionRecord: ...

    async def resolve_id(self, ref: str) -> str: ...

    async def list_sessions(self) -> list[SessionRecord]: ...

    async def events(self, session_id: str) -> list[EventRecord]: ...

    async def dismiss(self, session_id: str, *, who: str) -> SessionRecord: ...

    async def find_recoverable(self) -> list[SessionRecord]: ...

    async def reap_orphans(self, *, who: str = "reaper") -> list[str]: ...

    def iter_pages(
        self, session_id: str, *, status: PageStatus | None = None, batch: int = 500
    ) -> AsyncIterator[PageRecord]: ...

    async def pages_after(
        self,
        session_id: str,
        *,
        status: PageStatus | None = None,
        after_id: int = 0,
        limit: int = 200,
        search: str = "",
    ) -> list[PageRecord]: ...

    async def missing_content(self, pages: Sequence[PageRecord]) -> list[str]:
        """URLs of the done `pages` whose stored content is missing or damaged (checked
        without reading it whole where the backend can: a stat on SQLite)."""
        ...


class SessionSecrets(Protocol):
    """Secret header values kept apart from the store (never in its records)."""

    async def load(self, session_id: str) -> dict[str, str]: ...

    async def delete(self, session_id: str) -> None: ...


class QueuePort(Protocol):
    """The service's queue of pending sessions, in order. An entry is marked started (a
    compare-and-set) before its worker is spawned and stays until the service sees the session
    leave `running`, so a service started again after a kill knows what it had started."""

    async def enqueue_session(self, session_id: str) -> QueueEntry:
        """Append a pending session (NotQueueable otherwise); one already queued stays put."""
        ...

    async def queue_entries(self) -> list[QueueEntry]: ...

    async def move_queued(self, session_id: str, delta: int) -> QueueEntry:
        """One place up (delta < 0) or down among the waiting entries."""
        ...

    async def remove_queued(self, session_id: str) -> bool: ...

    async def mark_queue_started(self, session_id: str, at: float) -> bool: ...

    async def unmark_queue_started(self, session_id: str, started_at: float) -> bool: ...


class SchedulesPort(Protocol):
    """Recurring crawls and the record of each time one came due (`fire_schedule`: the next
    time, the run and, when started, its queued session in one compare-and-set transaction)."""

    async def add_schedule(self, spec: ScheduleSpec) -> ScheduleRecord: ...

    async def update_schedule(self, schedule_id: str, spec: ScheduleSpec) -> ScheduleRecord:
        """A new crawl and timing; the next run counted from now, the runs kept."""
        ...

    async def list_schedules(self) -> list[ScheduleRecord]: ...

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord: ...

    async def resolve_schedule(self, ref: str) -> str: ...

    async def remove_schedule(self, schedule_id: str) -> bool: ...

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_run_at: float | None = None
    ) -> ScheduleRecord: ...

    async def fire_schedule(
        self,
        schedule_id: str,
        *,
        due_at: float,
        next_run_at: float,
        outcome: RunOutcome,
        detail: str,
        who: str,
    ) -> ScheduleRun | None: ...

    async def schedule_runs(self, schedule_id: str, *, limit: int = 50) -> list[ScheduleRun]: ...

    async def schedule_of_session(self, session_id: str) -> str | None: ...


class PlanningStore(SessionStore, QueuePort, SchedulesPort, Protocol):
    """What the background service (runtime/daemon) asks of a store."""
