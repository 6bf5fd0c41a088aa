"""Store: the async face of the database, the lease locks and the blob directory.

A write is one transaction block on the writer connection, a read one call on the reader
(see db.py: the lock and shield that make a cancel mid-block roll back whole).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ...domain.analytics import AnalyticsRow
from ...domain.config import CrawlConfig
from ...domain.errors import InvalidTransition, SessionBusy
from ...domain.progress import Progress
from ...domain.records import (
    ClaimedPage,
    ControlCommand,
    ControlRecord,
    EarlierCapture,
    EventRecord,
    LeaseOwner,
    PageRecord,
    PageResult,
    PageState,
    PreviousPage,
    SessionRecord,
    control_args,
    control_command,
)
from ...domain.status import PageStatus, Status
from ...paths import ensure_data_dir, make_private_dir
from . import analytics, control, diff, frontier, lease, sessions, validators
from .blobs import BLOBS_DIRNAME, BlobStore, blob_looks_intact, blob_present, sync_data_dir
from .db import DB_FILENAME, Database, StorageUnavailable
from .schedules import PlanningMethods

if TYPE_CHECKING:
    from ...ports import AnalyticsTally, PlanningStore, RuntimeStore


class PollFeed:
    """The ChangeFeed of a store that cannot notify: every wait is the whole poll interval."""

    async def wait(self, timeout: float) -> Literal["poll"]:
        await asyncio.sleep(max(0.0, timeout))
        return "poll"

    async def close(self) -> None:
        return None


class Store(PlanningMethods):
    data_dir: Path
    db_path: Path
    blobs: BlobStore

    def __init__(self, data_dir: Path, db: Database) -> None:
        self.data_dir = data_dir
        self.db_path = db.path
        self.blobs = BlobStore(data_dir / BLOBS_DIRNAME)
        self._db = db
        self._leases: dict[str, lease.HeldLock] = {}

    @classmethod
    async def open(cls, data_dir: Path, *, readonly: bool = False) -> Store:
        data_dir = Path(data_dir)
        if readonly:
            db = await Database.open(data_dir / DB_FILENAME, readonly=True)
            return cls(data_dir, db)
        ensure_data_dir(data_dir)
        db = await Database.open(data_dir / DB_FILENAME, readonly=False)
        try:
            make_private_dir(data_dir / BLOBS_DIRNAME)
            make_private_dir(data_dir / lease.LOCKS_DIRNAME)
        except BaseException:
            await db.close()
            raise
        return cls(data_dir, db)

    def add_wait_listener(self, listener: Callable[[str], None]) -> None:
        """See Database.add_wait_listener: told when writes wait for another process's lock."""
        self._db.add_wait_listener(listener)

    def remove_wait_listener(self, listener: Callable[[str], None]) -> None:
        self._db.remove_wait_listener(listener)

    @property
    def readonly(self) -> bool:
        return self._db.readonly

    async def close(self) -> None:
        for held in list(self._leases.values()):
            held.release()
        self._leases.clear()
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # sessions and the state machine ------------------------------------------------------
    async def create_session(self, config: CrawlConfig, *, who: str) -> SessionRecord:
        return await self._db.write(sessions.create, config, who)

    async def get_session(self, session_id: str) -> SessionRecord:
        return self._as_seen(await self._db.read(sessions.get, session_id))

    async def resolve_id(self, ref: str) -> str:
        return await self._db.read(sessions.resolve_id, ref)

    async def list_sessions(self) -> list[SessionRecord]:
        return [self._as_seen(s) for s in await self._db.read(sessions.list_all)]

    def _as_seen(self, record: SessionRecord) -> SessionRecord:
        """A read-only store never reaps, so a `running` row whose owner is gone (its lock is
        free) is shown as what the next writer will record: interrupted. Nothing is written."""
        if not self.readonly or record.status is not Status.RUNNING:
            return record
        if lease.owner_alive(self.data_dir, record.id):
            return record
        return replace(
            record,
            status=Status.INTERRUPTED,
            error=record.error or "the process running it is gone (not yet recorded)",
        )

    async def transition(
        self,
        session_id: str,
        wanted: Status,
        *,
        reason: str,
        who: str,
        expected: Status | None = None,
        error: str | None = None,
    ) -> SessionRecord:
        return await self._db.write(
            sessions.transition,
            session_id,
            wanted,
            reason=reason,
            who=who,
            expected=expected,
            error=error,
        )

    async def events(self, session_id: str) -> list[EventRecord]:
        return await self._db.read(sessions.events, session_id)

    async def add_event(self, session_id: str, kind: str, reason: str, *, who: str) -> None:
        await self._db.write(sessions.add_event, session_id, kind, reason, who)

    async def dismiss(self, session_id: str, *, who: str) -> SessionRecord:
        return await self._db.write(sessions.dismiss, session_id, who)

    async def find_recoverable(self) -> list[SessionRecord]:
        return await self._db.read(sessions.recoverable)

    async def set_summary(self, session_id: str, summary: dict[str, Any]) -> None:
        await self._db.write(sessions.set_summary, session_id, summary)

    async def record_tuning(
        self, session_id: str, config: CrawlConfig, *, reason: str, who: str
    ) -> SessionRecord:
        """A running crawl's tuned config kept for its resume, with its timeline event."""
        config.validate()
        return await self._db.write(sessions.record_tuning, session_id, config, reason, who)

    # lease -------------------------------------------------------------------------------
    async def acquire_run(
        self, session_id: str, owner: LeaseOwner, *, who: str, reason: str
    ) -> SessionRecord:
        """flock (else SessionBusy naming the holder), then pending|paused|interrupted → running."""
        self._require_writable()
        if session_id in self._leases:
            raise SessionBusy(session_id, os.getpid(), owner.host)
        await self.get_session(session_id)  # SessionNotFound before creating a lock file
        held = lease.try_lock(self.data_dir, session_id)
        if held is None:
            info = lease.read_owner(self.data_dir, session_id)
            pid = info.get("pid")
            host = info.get("host")
            raise SessionBusy(
                session_id,
                pid if isinstance(pid, int) else None,
                host if isinstance(host, str) else None,
            )
        try:
            lease.write_owner(
                held,
                {
                    "pid": owner.pid,
                    "host": owner.host,
                    "start": owner.process_start,
                    "run_id": owner.run_id,
                },
            )
            record = await self._db.write(
                _acquire, session_id, owner.text(), who=who, reason=reason
            )
        except BaseException:
            held.release()
            raise
        self._leases[session_id] = held
        return record

    async def release_run(self, session_id: str) -> None:
        held = self._leases.pop(session_id, None)
        if held is not None:
            held.release()

    def holds_lease(self, session_id: str) -> bool:
        return session_id in self._leases

    async def lease_holder(self, session_id: str) -> dict[str, object] | None:
        """Who holds the session's run lease now (pid, host, start/started, run_id), or None
        when no live process does. The flock is the truth; what its file records is shown."""
        if not lease.owner_alive(self.data_dir, session_id):
            return None
        info: dict[str, object] = dict(lease.read_owner(self.data_dir, session_id))
        info.setdefault("started", info.get("start"))
        return info

    async def reap_orphans(self, *, who: str = "reaper") -> list[str]:
        """Every `running` session whose lock nobody holds → interrupted; returns their ids."""
        if self.readonly:
            return []
        reaped: list[str] = []
        for session_id, lease_owner in await self._db.read(sessions.running_ids):
            if session_id in self._leases:
                continue  # ours, alive
            held = lease.try_lock(self.data_dir, session_id)
            if held is None:
                continue  # a live process holds it, whatever its heartbeat says
            try:
                pid = lease.read_owner(self.data_dir, session_id).get("pid")
                if not isinstance(pid, int):
                    pid = lease.pid_from_lease(lease_owner)
                shown = f"pid {pid}" if pid is not None else "pid unknown"
                try:
                    await self._db.write(
                        _interrupt_orphan, session_id, f"owner process is gone ({shown})", who
                    )
                except InvalidTransition:
                    continue  # someone else settled it meanwhile
                reaped.append(session_id)
            finally:
                held.release()
        return reaped

    # frontier ----------------------------------------------------------------------------
    async def claim_batch(self, session_id: str, limit: int, now: float) -> list[ClaimedPage]:
        return await self._db.write(frontier.claim, session_id, limit, now)

    async def next_due_time(self, session_id: str) -> float | None:
        return await self._db.read(frontier.next_due_time, session_id)

    async def requeue_fetching(self, session_id: str) -> int:
        return await self._db.write(frontier.requeue_fetching, session_id)

    async def requeue_lost_content(self, session_id: str) -> int:
        """Done pages whose stored content is gone are queued again; returns how many."""
        return await self._db.write(frontier.requeue_lost_content, session_id, str(self.data_dir))

    async def missing_content(self, pages: Sequence[PageRecord]) -> list[str]:
        """URLs of the done `pages` whose blob file is missing or empty: a stat each, no reading
        (an export's check that what it names is still there)."""
        return await asyncio.to_thread(_missing_content, self.data_dir, list(pages))

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
        # The batch is copied here so a caller mutating its list after a cancel changes nothing.
        named = [r.storage_path for r in results if r.storage_path]
        if named:
            # Blobs named by this batch were written without fsync: make them durable first
            # (invariant 3: a blob is on disk before the row that names it commits), and
            # check they are still there (blobs/ deleted or replaced under a running crawl must
            # stop it, not commit rows that name nothing). Off the db thread, so claims and
            # reads are not held up behind the flush.
            await asyncio.to_thread(_sync_and_check_blobs, self.data_dir, named)
        return await self._db.write(
            frontier.checkpoint, session_id, list(results), progress, heartbeat, max_pages, tally
        )

    async def analytics_rows(self, session_id: str) -> list[AnalyticsRow]:
        """The session's analytics rows (on the reader: never behind a checkpoint)."""
        return await self._db.read(analytics.read_rows, session_id)

    async def queued_by_host(self, session_id: str, limit: int = 50) -> dict[str, int]:
        """Pages queued or being fetched per host, the `limit` hosts with most (a scan)."""
        return await self._db.read(analytics.queued_by_host, session_id, limit)

    async def page_status(self, session_id: str, url: str) -> PageStatus | None:
        """The status of the page at `url` (canonical), or None when the frontier lacks it.

        On the reader, so it never waits behind a checkpoint or a claim on the writer. It still
        sees every write of this store that returned before it was called: a write returns only
        once its COMMIT finished (db.py), and a WAL read transaction that starts after a commit
        sees it. A write still in flight is not seen; the engine asks only about what its own
        returned writes settled (tests/sqlite/test_reader_visibility.py).
        """
        return await self._db.read(frontier.page_status, session_id, url)

    async def page_counts(self, session_id: str) -> dict[PageStatus, int]:
        return await self._db.read(frontier.page_counts, session_id)

    async def iter_pages(
        self, session_id: str, *, status: PageStatus | None = None, batch: int = 500
    ) -> AsyncIterator[PageRecord]:
        """Keyset pages in id order, each its own short read: never starves WAL checkpoints."""
        after = 0
        while True:
            rows = await self._db.read(frontier.pages_after, session_id, status, after, batch)
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            after = rows[-1].id

    async def previous_pages(self, session_id: str, urls: Sequence[str]) -> dict[str, PreviousPage]:
        """A recrawl's validators and stored content for `urls` (see ports.PreviousPages)."""
        return await self._db.read(validators.previous_pages, session_id, urls)

    async def earlier_captures(
        self, session_id: str, urls: Sequence[str]
    ) -> dict[str, EarlierCapture]:
        """An earlier session's pages under `urls`, for WARC revisits (ports.EarlierCaptures)."""
        return await self._db.read(validators.earlier_captures, session_id, urls)

    async def iter_page_states(
        self, session_id: str, *, batch: int = 1000
    ) -> AsyncIterator[PageState]:
        """The session's pages in URL order, keyset batches (see ports.PageStates)."""
        after = ""
        while True:
            rows = await self._db.read(diff.page_states_after, session_id, after, batch)
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            after = rows[-1].url

    async def pages_after(
        self,
        session_id: str,
        *,
        status: PageStatus | None = None,
        after_id: int = 0,
        limit: int = 200,
        search: str = "",
    ) -> list[PageRecord]:
        """One keyset page (ids > `after_id`), optionally only URLs/titles containing `search`."""
        if search:
            return await self._db.read(
                frontier.find_pages, session_id, status, after_id, limit, search
            )
        return await self._db.read(frontier.pages_after, session_id, status, after_id, limit)

    async def get_page(self, page_id: int) -> PageRecord:
        return await self._db.read(frontier.get_page, page_id)

    async def seed_page(self, session_id: str) -> PageRecord | None:
        return await self._db.read(frontier.seed_page, session_id)

    async def recent_pages(self, session_id: str, limit: int) -> list[PageRecord]:
        return await self._db.read(frontier.recent_pages, session_id, limit)

    async def change_feed(self, session_id: str) -> PollFeed:
        """SQLite has no change notifications: a follower polls (ports.ProgressFeed)."""
        return PollFeed()

    # control: commands to a session, recorded durably (ports.ControlPort) -----------------
    async def post_control(
        self,
        session_id: str,
        command: ControlCommand | str,
        *,
        who: str,
        args: Mapping[str, Any] | None = None,
    ) -> ControlRecord:
        """Record a command for the session's worker; ConfigError for an unknown command or
        args that do not fit it (nothing is written then)."""
        checked = control_command(command)
        checked_args = control_args(checked, args)
        return await self._db.write(control.post, session_id, checked, checked_args, who)

    async def pending_controls(
        self, session_id: str, *, after_id: int = 0, limit: int = 100
    ) -> list[ControlRecord]:
        """The session's commands not yet applied, ids above `after_id`, oldest first."""
        return await self._db.read(control.pending, session_id, after_id, limit)

    async def get_control(self, control_id: int) -> ControlRecord:
        """One command as recorded (ControlNotFound): a client sees whether it was applied."""
        return await self._db.read(control.get, control_id)

    async def mark_control_applied(self, control_id: int, *, outcome: str) -> bool:
        """True when this call applied it; False when it was applied before (its first outcome
        stays)."""
        return await self._db.write(control.mark_applied, control_id, outcome)

    # helpers -----------------------------------------------------------------------------
    def _require_writable(self) -> None:
        if self.readonly:
            from ...domain.errors import DatabaseError

            raise DatabaseError(f"{self.db_path} is open read-only")


def _sync_and_check_blobs(data_dir: Path, named: list[str]) -> None:
    sync_data_dir(data_dir)
    missing = [rel for rel in named if not blob_present(data_dir, rel)]
    if missing:
        raise StorageUnavailable(
            f"{data_dir / missing[0]} is missing ({len(missing)} blob(s) written by this crawl "
            "are gone: was blobs/ deleted?); the session can be resumed once the data dir is "
            "restored"
        )


def _missing_content(data_dir: Path, pages: list[PageRecord]) -> list[str]:
    return [
        page.url
        for page in pages
        if page.status is PageStatus.DONE
        and page.storage_path
        and not blob_looks_intact(data_dir, page.storage_path, page.size)
    ]


def _acquire(
    conn: sqlite3.Connection, session_id: str, lease_owner: str, *, who: str, reason: str
) -> SessionRecord:
    """We hold the flock: a session still marked running is provably an orphan, settle it first."""
    if sessions.current_status(conn, session_id) == Status.RUNNING:
        _interrupt_orphan(conn, session_id, "owner process is gone", who)
    return sessions.transition(
        conn, session_id, Status.RUNNING, reason=reason, who=who, lease_owner=lease_owner
    )


def _interrupt_orphan(conn: sqlite3.Connection, session_id: str, reason: str, who: str) -> None:
    sessions.transition(
        conn, session_id, Status.INTERRUPTED, reason=reason, who=who, expected=Status.RUNNING
    )
    frontier.requeue_fetching(conn, session_id)


if TYPE_CHECKING:
    # mypy checks here that Store keeps every port it implements (a Protocol is structural:
    # nothing else would notice a method drifting from it).
    def _implements_ports(store: Store) -> RuntimeStore:
        return store

    def _implements_planning(store: Store) -> PlanningStore:
        return store
