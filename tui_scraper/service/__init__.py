"""The one API the UI and the CLI call: queries, commands and progress snapshots.

UI-free and Textual-free: a screen or a command holds a `SessionService` and the immutable
`ProgressSnapshot`s it hands out, never a live crawl object, so what a front end can touch is
exactly what this Protocol says (mypy checks every implementation against it). The service
reaches the engine and the backends only through the runtime; the shapes of the live figures
are Protocols here, so a remote client can fill them from the wire with classes of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tui_scraper.domain import (
    CrawlConfig,
    EventRecord,
    PageRecord,
    PageStatus,
    Progress,
    SessionRecord,
    Status,
)
from tui_scraper.domain.analytics import AnalyticsReport
from tui_scraper.domain.location import StoreLocation
from tui_scraper.domain.progress import completed_fraction
from tui_scraper.domain.tuning import Tuning

if TYPE_CHECKING:
    from tui_scraper.domain.records import PageState

    from .diff import DiffEntry

# At most this many snapshots a second from `watch`: a redraw costs the crawl's event loop
# time, and a human cannot read counters faster than this anyway.
DEFAULT_WATCH_HZ = 4.0


class RecentPage(Protocol):
    """A page the crawl just finished, as the live figures show it (read-only)."""

    @property
    def url(self) -> str: ...

    @property
    def status(self) -> str:
        """The page's status: done / failed / skipped / retry."""
        ...

    @property
    def http_status(self) -> int | None: ...

    @property
    def title(self) -> str | None: ...

    @property
    def size(self) -> int | None: ...

    @property
    def elapsed_ms(self) -> float | None: ...

    @property
    def at(self) -> float: ...


class LiveSample(Protocol):
    """One sample of a running crawl's figures, as the runtime publishes it."""

    @property
    def session_id(self) -> str: ...

    @property
    def target_url(self) -> str: ...

    @property
    def state(self) -> Status: ...

    @property
    def progress(self) -> Progress: ...

    @property
    def max_pages(self) -> int | None: ...

    @property
    def recent(self) -> Sequence[RecentPage]: ...

    @property
    def errors(self) -> Sequence[str]: ...

    @property
    def rate_history(self) -> Sequence[int]: ...

    @property
    def seq(self) -> int: ...


@dataclass(frozen=True)
class ProgressSnapshot:
    """One sample of a session's progress. Frozen, with tuples: safe to keep and compare."""

    session_id: str
    target_url: str
    status: Status
    progress: Progress
    max_pages: int | None
    recent: tuple[RecentPage, ...] = ()
    errors: tuple[str, ...] = ()
    # Pages finished in each of the last few whole seconds, oldest first.
    rate_history: tuple[int, ...] = ()
    # Grows with every change of the live figures: a reader skips redraws when it did not move.
    seq: int = 0
    # True while a crawl of this session runs in the service (False for a stored record).
    live: bool = False
    host_states: tuple[tuple[str, str], ...] = field(default=())
    # Set while the live channel to the crawl's worker is lost: the next try is in this many
    # seconds (the figures are the last ones received). None: connected, or not a worker.
    reconnect_in: float | None = None

    @property
    def fraction(self) -> float | None:
        return completed_fraction(self.progress, self.max_pages)

    @classmethod
    def of_stats(cls, snap: LiveSample, *, live: bool) -> ProgressSnapshot:
        return cls(
            session_id=snap.session_id,
            target_url=snap.target_url,
            status=snap.state,
            progress=snap.progress,
            max_pages=snap.max_pages,
            recent=tuple(snap.recent),
            errors=tuple(snap.errors),
            rate_history=tuple(snap.rate_history),
            seq=snap.seq,
            live=live,
            host_states=tuple(sorted(snap.progress.host_states.items())),
        )

    @classmethod
    def of_record(cls, record: SessionRecord) -> ProgressSnapshot:
        """A stopped session: its stored progress, nothing live."""
        return cls(
            session_id=record.id,
            target_url=record.target_url,
            status=record.status,
            progress=record.progress,
            max_pages=record.config.max_pages,
            host_states=tuple(sorted(record.progress.host_states.items())),
        )


@dataclass(frozen=True)
class WorkerInfo:
    """The background worker process that runs a session (see `start_detached`)."""

    pid: int
    host: str
    # When the worker process started (seconds since the epoch), if it said.
    since: float | None = None
    socket_path: Path | None = None
    log_path: Path | None = None


@dataclass(frozen=True)
class CommandDelivery:
    """How a command reached a session's worker, and what the worker said it did."""

    # "channel": the worker answered over its live channel. "control": the channel was not
    # reachable, so the command was recorded in the store for the worker to pick up.
    via: str
    # What the worker did ("pausing", "ignored: ..."); None: not applied yet when we stopped
    # waiting (a control record is applied within a second by a worker that runs).
    outcome: str | None
    control_id: int | None = None


class SessionService(Protocol):
    """Everything a front end may ask of sessions and crawls."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def location(self) -> StoreLocation:
        """Where the sessions are stored: the data dir, and the database URL when it is not
        SQLite there. A forced exit marks this process's crawls interrupted through it
        directly when the loop is stuck."""
        ...

    # queries -------------------------------------------------------------------------------
    async def list_sessions(self) -> list[SessionRecord]: ...

    async def get(self, session_ref: str) -> SessionRecord: ...

    async def events(self, session_ref: str) -> list[EventRecord]: ...

    async def recoverable(self) -> list[SessionRecord]: ...

    async def pages(
        self, session_ref: str, *, status: PageStatus | None = None, limit: int = 500
    ) -> list[PageRecord]: ...

    async def pages_after(
        self,
        session_ref: str,
        *,
        status: PageStatus | None = None,
        after_id: int = 0,
        limit: int = 200,
        search: str = "",
    ) -> list[PageRecord]: ...

    async def page_counts(self, session_ref: str) -> dict[PageStatus, int]: ...

    async def analytics(self, session_ref: str) -> AnalyticsReport:
        """The session's analytics (service/analytics.py), as of its last checkpoint."""
        ...

    def running_ids(self) -> list[str]:
        """Sessions whose crawl runs in this service now (cheap, never blocks)."""
        ...

    def latest(self, session_id: str) -> ProgressSnapshot | None:
        """The current live sample of a running (or just finished) crawl, else None.
        Cheap and synchronous: it copies in-memory counters, no I/O."""
        ...

    def watch(
        self, session_id: str, *, hz: float = DEFAULT_WATCH_HZ
    ) -> AsyncIterator[ProgressSnapshot]:
        """Snapshots of a live crawl, at most `hz` a second and only when something moved;
        the last one carries the final status, then the iterator ends."""
        ...

    # commands ------------------------------------------------------------------------------
    async def create(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> SessionRecord: ...

    async def start(self, session_ref: str) -> str:
        """Start (or resume) a crawl; returns the session id. Already running: a no-op."""
        ...

    async def resume(self, session_ref: str) -> str: ...

    def pause(self, session_id: str) -> bool:
        """Ask a live crawl to checkpoint and pause; False when none runs."""
        ...

    def cancel(self, session_id: str) -> bool:
        """Ask a live crawl to stop as failed (cancelled); False when none runs."""
        ...

    def interrupt(self, session_id: str, reason: str, *, who: str | None = None) -> bool:
        """Ask a live crawl to checkpoint and stop resumably (`interrupted`, e.g. on a signal),
        recording `reason`; False when none runs."""
        ...

    async def wait(self, session_id: str) -> Status | None:
        """The final status of the crawl running now, once it ends (None when none runs)."""
        ...

    async def dismiss(self, session_ref: str) -> SessionRecord: ...

    async def export(
        self,
        session_ref: str,
        fmt: str,
        path: Path | None,
        *,
        keep_formulas: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Every stored page of the session as `fmt` (jsonl, csv, warc) to `path` (None or "-":
        standard output, never for warc); the number of pages written. CSV cells a spreadsheet
        would run are neutralised unless `keep_formulas`. `progress(done, total)` is told as a
        WARC export goes."""
        ...

    def diff(self, before_id: str, after_id: str) -> AsyncIterator[DiffEntry]:
        """Every URL of either session (full ids) in URL order, classified (service/diff.py):
        streamed, neither session is read into memory."""
        ...

    async def stored_text(self, state: PageState) -> list[str] | None:
        """The visible text of a page's stored content, line by line (None: nothing stored, or
        it is gone): what the Diff view compares."""
        ...

    async def secrets_problem(self, session: SessionRecord) -> str | None:
        """Why the secret headers `session` was started with cannot be sent again (missing,
        damaged), or None when it had none or they are all there."""
        ...

    async def forget_secrets(self, session_id: str) -> None:
        """Delete the session's secret headers (a resume told to go on without them)."""
        ...

    # background workers -------------------------------------------------------------------
    async def start_detached(self, session_ref: str) -> WorkerInfo:
        """Start (or resume) the session in a worker process of its own, detached from this
        terminal, once it serves its live channel (or has already stopped)."""
        ...

    def worker_of(self, session_id: str) -> WorkerInfo | None:
        """The process holding the session's lease now, or None when nothing runs it."""
        ...

    async def command_worker(
        self, session_ref: str, command: str, *, reason: str | None = None
    ) -> CommandDelivery:
        """Send `pause`, `cancel` or `interrupt` to the worker running the session: over its
        live channel, else as a durable control record. ScraperError when it is not running
        or the worker refuses. `reason` (interrupt only) goes into the session's timeline when
        the channel carries it; a control record names who asked instead."""
        ...

    async def tune(self, session_ref: str, tuning: Tuning) -> CommandDelivery:
        """Change the rate, concurrency or exclude patterns of a running crawl (live tuning):
        over its worker's channel, else as a control record. The worker applies it within a
        second, records it in the timeline and keeps it in the session's config (a resume
        uses it). ScraperError when the session is not running or the worker refuses."""
        ...

    def watch_worker(self, session_id: str) -> AsyncIterator[ProgressSnapshot]:
        """Snapshots of a crawl running in a worker process, over its channel (reconnecting
        while the worker lives); the last one carries the final status when it was sent.
        While the channel is lost, the last snapshot again with `reconnect_in` set."""
        ...

    async def interrupt_all(self, reason: str, *, who: str) -> None: ...

    async def close(self) -> None: ...


__all__ = [
    "DEFAULT_WATCH_HZ",
    "CommandDelivery",
    "ProgressSnapshot",
    "RecentPage",
    "SessionService",
    "Tuning",
    "WorkerInfo",
]
