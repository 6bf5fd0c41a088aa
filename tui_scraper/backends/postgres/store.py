"""Store: the PostgreSQL backend's async face, with the same public API as the SQLite Store.

Every operation is one transaction on a pooled connection (psycopg 3 async, psycopg_pool). A
connection that breaks (the server restarted, the network blinked) is replaced by the pool; the
operations that are safe to run twice (reads, claims, checkpoints, requeues, renewals,
compare-and-set transitions, a control record marked applied, a worker concluding) are tried
again with full-jitter backoff for up to TUI_SCRAPER_DB_WAIT_S seconds, telling the wait
listeners, and the lease locks the lost connection held are taken again as soon as the server
answers; after that StorageUnavailable stops the crawl resumably. The others (creating a
session, an event, a tuning record, a control post, taking or joining a run) surface
StorageUnavailable at once: after a lost COMMIT nobody can tell whether it landed, and running
them twice would not be the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ...backoff import backoff_delay
from ...domain.analytics import AnalyticsRow
from ...domain.config import CrawlConfig
from ...domain.errors import (
    ControlNotFound,
    DatabaseError,
    InvalidTransition,
    PageNotFound,
    SessionBusy,
    SessionNotFound,
)
from ...domain.errors import StorageUnavailable as StorageUnavailable
from ...domain.progress import Progress
from ...domain.records import (
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
    control_args,
    control_command,
)
from ...domain.status import PageStatus, Status
from . import analytics, control, diff, frontier, hosts, notify, sessions, validators, workers
from .blobs import BlobWriter
from .connect import ServerUnreachable, connect, connect_kwargs, shown, translate
from .lease import LockKeeper, new_key, parse_owner
from .migrations import migrate_async, read_version
from .rows import one_statement
from .schedules import PlanningMethods

if TYPE_CHECKING:
    from ...ports import AnalyticsTally, HostPacing, PlanningStore, RuntimeStore

P = ParamSpec("P")
T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]
SqlFn = Callable[Concatenate[Conn, P], Awaitable[T]]
WaitListener = Callable[[str], None]

# How often a claim first looks for lapsed claims to put back in the queue (not every claim: the
# lapsed are rare, the claims many).
_LAPSED_EVERY_S = 2.0
# Waiting out an unreachable server: full-jitter backoff from this base up to this cap.
_RETRY_BASE_S = 0.05
_RETRY_CAP_S = 2.0
_NOW_SQL = "SELECT extract(epoch from clock_timestamp())::double precision"
# How often a refused reservation on one host first drops the slots of dead workers there.
_DEAD_SLOTS_EVERY_S = 1.0


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass
class _Held:
    token: str  # the run lease's token; "" for a worker that joined a running session
    key: int

    @property
    def joined(self) -> bool:
        return not self.token


class _NoSchema(Exception):
    """A read-only store on a database nobody has migrated: every query answers as if empty."""


class Store(PlanningMethods):
    url: str
    blobs: BlobWriter

    def __init__(self, url: str, pool: AsyncConnectionPool[Any], *, readonly: bool) -> None:
        self.url = url
        self.where = shown(url)
        self.blobs = BlobWriter(url)
        self._pool = pool
        self._readonly = readonly
        self._empty = False
        self._closed = False
        self._keeper = LockKeeper(url)
        self._leases: dict[str, _Held] = {}
        # Names this store's claims on page rows: a checkpoint writes only rows still its own.
        self._claimer = uuid.uuid4().hex
        self._renewer: asyncio.Task[None] | None = None
        self._lapsed_checked: dict[str, float] = {}  # session id → monotonic time
        self._slots = itertools.count(1)  # host slot ids: the claimer id and a serial
        self._swept: dict[tuple[str, str], float] = {}  # (session, host) → monotonic time
        # Sessions whose lease this store held and lost (it lapsed while the process was
        # stopped or cut off, and another owner or the reaper took over): fenced off.
        self._lost: set[str] = set()
        # When each held lease was last renewed (monotonic: it runs on while the process is
        # stopped), so a process woken past its lease finds out before its next claim or
        # checkpoint rather than at its renewal loop's next turn.
        self._renewed_at: dict[str, float] = {}
        self._listeners: list[WaitListener] = []
        self._waiters = 0
        self.lease_seconds = _env_seconds("TUI_SCRAPER_PG_LEASE_S", 30.0)
        self.busy_wait_s = _env_seconds("TUI_SCRAPER_DB_WAIT_S", 60.0)

    # opening -------------------------------------------------------------------------------
    @classmethod
    async def open(cls, url: str, *, readonly: bool = False) -> Store:
        """Connect once (so a refused password or an unreachable server is told as such), check
        or migrate the schema, then start the pool. StorageUnavailable / DatabaseError."""
        where = shown(url)
        first = await connect(url, readonly=readonly)
        try:
            if readonly:
                version = await read_version(first, where)
            else:
                version = await migrate_async(first, where)
        except psycopg.Error as exc:
            raise translate(url, exc) from None
        finally:
            await first.close()
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            kwargs=connect_kwargs(readonly=readonly),
            min_size=1,
            max_size=4,
            open=False,
            timeout=30,
            name="tui-scraper",
        )
        try:
            await pool.open(wait=True, timeout=30)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise StorageUnavailable(f"{where}: cannot connect ({exc})") from None
        store = cls(url, pool, readonly=readonly)
        store._empty = version is None
        return store

    def add_wait_listener(self, listener: WaitListener) -> None:
        """`listener(text)` is told when calls start waiting for an unreachable server and when
        they stop ("")."""
        self._listeners.append(listener)

    def remove_wait_listener(self, listener: WaitListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _tell(self, text: str) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):
                listener(text)

    @property
    def readonly(self) -> bool:
        return self._readonly

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(BaseException):
                await self._renewer
        self._leases.clear()
        await self._keeper.close()
        self.blobs.close()
        await self._pool.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # running -------------------------------------------------------------------------------
    async def _once(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        if self._closed:
            raise DatabaseError(f"{self.where} is closed")
        try:
            async with self._pool.connection() as conn:
                if getattr(fn, "one_statement", False):
                    return await fn(conn, *args, **kw)
                async with conn.transaction():
                    return await fn(conn, *args, **kw)
        except PoolTimeout as exc:
            raise ServerUnreachable(
                f"{self.where}: no connection ({exc}); the session can be resumed once the "
                "database is reachable"
            ) from None
        except psycopg.Error as exc:
            raise translate(self.url, exc) from None

    async def _run(self, retry: bool, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        """One transaction; tried again while the server is out of reach when `retry`."""
        if self._empty:
            raise _NoSchema
        started: float | None = None
        attempt = 0
        try:
            while True:
                try:
                    result = await self._once(fn, *args, **kw)
                except ServerUnreachable:
                    if not retry:
                        raise
                    now = time.monotonic()
                    if started is None:
                        started = now
                        self._waiters += 1
                        if self._waiters == 1:
                            self._tell("waiting for the database (the server is out of reach)")
                    if now - started >= self.busy_wait_s:
                        raise
                    # Full jitter: the workers of a crawl (and their fetch workers) lost the
                    # server together and must not all knock again in the same instant.
                    await asyncio.sleep(
                        backoff_delay(attempt, base=_RETRY_BASE_S, cap=_RETRY_CAP_S)
                    )
                    attempt += 1
                    continue
                if started is not None:
                    await self._relock()
                return result
        finally:
            if started is not None:
                self._waiters -= 1
                if self._waiters == 0:
                    self._tell("")

    async def _relock(self) -> None:
        """The server is back after a lost connection: take this store's lease locks again at
        once, not at the next renewal. Until then the others see our leases' locks gone, as
        if we had died, and put our claims back in the queue."""
        if self._leases:
            with contextlib.suppress(DatabaseError):
                await self._keeper.ensure({h.key for h in self._leases.values()})

    async def _read(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        return await self._run(True, fn, *args, **kw)

    async def _write(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        """A write that must not run twice (a lost COMMIT may have landed): not retried."""
        self._require_writable()
        return await self._run(False, fn, *args, **kw)

    async def _write_again(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        """A write that is the same run twice (keyed, or a compare-and-set): retried."""
        self._require_writable()
        return await self._run(True, fn, *args, **kw)

    def _require_writable(self) -> None:
        if self._readonly:
            raise DatabaseError(f"{self.where} is open read-only")

    # sessions and the state machine ------------------------------------------------------
    async def create_session(self, config: CrawlConfig, *, who: str) -> SessionRecord:
        return await self._write(sessions.create, config, who)

    async def get_session(self, session_id: str) -> SessionRecord:
        try:
            record = await self._read(sessions.get, session_id)
        except _NoSchema:
            raise SessionNotFound(session_id) from None
        return (await self._as_seen([record]))[0]

    async def resolve_id(self, ref: str) -> str:
        try:
            return await self._read(sessions.resolve_id, ref)
        except _NoSchema:
            raise SessionNotFound(ref) from None

    async def list_sessions(self) -> list[SessionRecord]:
        try:
            return await self._as_seen(await self._read(sessions.list_all))
        except _NoSchema:
            return []

    async def _as_seen(self, records: list[SessionRecord]) -> list[SessionRecord]:
        """A read-only store never reaps: a `running` row whose owner is gone is shown as what
        the next writer will record, interrupted. Nothing is written."""
        if not self.readonly or not any(r.status is Status.RUNNING for r in records):
            return records
        alive = await self._read(_alive_running)
        return [
            r
            if r.status is not Status.RUNNING or r.id in alive
            else replace(
                r,
                status=Status.INTERRUPTED,
                error=r.error or "the process running it is gone (not yet recorded)",
            )
            for r in records
        ]

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
        if session_id in self._lost:
            # The run this store was part of lost the session: its closing transition must not
            # move the new owner's run.
            raise InvalidTransition(session_id, None, wanted)
        # A compare-and-set (`expected`) is safe to try again: if the lost COMMIT had landed,
        # the retry is refused (InvalidTransition) with the session already where we wanted it.
        write = self._write if expected is None else self._write_again
        return await write(
            notify.transition_announced,
            session_id,
            wanted,
            reason=reason,
            who=who,
            expected=expected,
            error=error,
        )

    async def events(self, session_id: str) -> list[EventRecord]:
        try:
            return await self._read(sessions.events, session_id)
        except _NoSchema:
            raise SessionNotFound(session_id) from None

    async def add_event(self, session_id: str, kind: str, reason: str, *, who: str) -> None:
        await self._write(sessions.add_event, session_id, kind, reason, who)

    async def dismiss(self, session_id: str, *, who: str) -> SessionRecord:
        return await self._write(sessions.dismiss, session_id, who)

    async def find_recoverable(self) -> list[SessionRecord]:
        try:
            return await self._read(sessions.recoverable)
        except _NoSchema:
            return []

    async def set_summary(self, session_id: str, summary: dict[str, Any]) -> None:
        await self._write_again(sessions.set_summary, session_id, summary)

    async def record_tuning(
        self, session_id: str, config: CrawlConfig, *, reason: str, who: str
    ) -> SessionRecord:
        config.validate()
        return await self._write(sessions.record_tuning, session_id, config, reason, who)

    # lease -------------------------------------------------------------------------------
    async def acquire_run(
        self, session_id: str, owner: LeaseOwner, *, who: str, reason: str
    ) -> SessionRecord:
        """Take the row lease (else SessionBusy naming the live holder), settling a dead
        holder's run first, and move the session to running."""
        self._require_writable()
        if session_id in self._leases:
            raise SessionBusy(session_id, os.getpid(), owner.host)
        await self.get_session(session_id)
        held = _Held(token=uuid.uuid4().hex, key=new_key())
        await self._keeper.take(held.key)
        try:
            record = await self._write(
                _acquire,
                session_id,
                owner.text(),
                held,
                self.lease_seconds,
                who,
                reason,
                self._claimer,
            )
        except BaseException:
            await self._keeper.drop(held.key)
            raise
        self._leases[session_id] = held
        self._lost.discard(session_id)
        self._renewed_at[session_id] = time.monotonic()
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever(), name="pg-lease-renewal")
        return record

    async def release_run(self, session_id: str) -> None:
        held = self._leases.pop(session_id, None)
        if held is not None:
            # Its claims back to the queue and its worker row gone (best effort: a row left
            # behind is dead with the lock, and the next worker to conclude deletes it).
            with contextlib.suppress(DatabaseError):
                await self._write_again(hosts.release_worker, session_id, self._claimer)
            with contextlib.suppress(DatabaseError):
                await self._write_again(workers.unregister, session_id, self._claimer)
            await self._keeper.drop(held.key)

    async def join_run(self, session_id: str, owner: LeaseOwner, *, who: str) -> SessionRecord:
        """Join a session another worker runs: claim from its frontier and commit our own
        results beside it (InvalidTransition when nobody runs it)."""
        self._require_writable()
        if session_id in self._leases:
            raise SessionBusy(session_id, os.getpid(), owner.host)
        held = _Held(token="", key=new_key())
        await self._keeper.take(held.key)
        try:
            record = await self._write(
                workers.join,
                session_id,
                self._claimer,
                owner.text(),
                held.key,
                self.lease_seconds,
                who,
            )
        except BaseException:
            await self._keeper.drop(held.key)
            raise
        self._leases[session_id] = held
        self._lost.discard(session_id)
        self._renewed_at[session_id] = time.monotonic()
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever(), name="pg-lease-renewal")
        return record

    async def conclude_run(self, session_id: str) -> workers.Verdict:
        """Our crawl ran dry: "leave" (another live worker finishes the session; our row is
        gone), "finish" (we are the last and nothing is left: complete it, then release), or
        "more" (we are the last and pages are queued: crawl on)."""
        if session_id in self._lost:
            return "leave"
        return await self._write_again(workers.conclude, session_id, self._claimer)

    def holds_lease(self, session_id: str) -> bool:
        return session_id in self._leases

    async def renew_run(self, session_id: str) -> bool:
        """Extend this store's lease on the session (and its claims on pages); False when the
        lease is no longer ours (it lapsed and another owner or the reaper took it), and then
        this store forgets it: its next checkpoint cannot commit over the new owner."""
        held = self._leases.get(session_id)
        if held is None:
            return False
        await self._keeper.ensure({h.key for h in self._leases.values()})
        if held.joined:
            ours = await self._write_again(
                workers.renew, session_id, self._claimer, self.lease_seconds
            )
        else:
            ours = await self._write_again(
                _renew, session_id, held.token, self._claimer, self.lease_seconds
            )
        if not ours:
            self._lost.add(session_id)
            await self.release_run(session_id)
        else:
            self._renewed_at[session_id] = time.monotonic()
        return ours

    async def _fence(self, session_id: str) -> None:
        """StorageUnavailable when this store lost the session's lease, asking the database
        first when the last renewal is older than the lease (the process was stopped)."""
        renewed = self._renewed_at.get(session_id)
        if (
            session_id in self._leases
            and renewed is not None
            and time.monotonic() - renewed > self.lease_seconds
        ):
            with contextlib.suppress(DatabaseError):
                await self.renew_run(session_id)
        if session_id in self._lost:
            raise StorageUnavailable(
                f"session {session_id}: this worker lost its lease (it was stopped or cut off "
                "past it) and another owner has the session; nothing of this batch was written"
            )

    async def _renew_forever(self) -> None:
        while self._leases:
            await asyncio.sleep(self.lease_seconds / 3)
            for session_id in list(self._leases):
                with contextlib.suppress(DatabaseError):
                    await self.renew_run(session_id)

    async def lease_holder(self, session_id: str) -> dict[str, object] | None:
        """Who holds the session's run lease now (pid, host, start/started, run_id), or None
        when no live owner does."""
        try:
            text = await self._read(workers.live_owner, session_id)
        except _NoSchema:
            return None
        return parse_owner(text) if text is not None else None

    async def reap_orphans(self, *, who: str = "reaper") -> list[str]:
        """Every `running` session whose owner is not alive → interrupted; returns their ids."""
        if self.readonly:
            return []
        reaped: list[str] = []
        for session_id, lease_owner in await self._read(_dead_running):
            if session_id in self._leases:
                continue
            pid = (parse_owner(lease_owner) or {}).get("pid")
            shown_pid = f"pid {pid}" if pid is not None else "pid unknown"
            try:
                moved = await self._write(
                    _reap_one, session_id, f"owner process is gone ({shown_pid})", who
                )
            except InvalidTransition:
                continue
            if moved:
                reaped.append(session_id)
        return reaped

    # frontier ----------------------------------------------------------------------------
    async def claim_batch(self, session_id: str, limit: int, now: float) -> list[ClaimedPage]:
        await self._fence(session_id)
        checked = self._lapsed_checked.get(session_id)
        if checked is None or time.monotonic() - checked >= _LAPSED_EVERY_S:
            await self._write_again(frontier.requeue_lapsed, session_id)
            self._lapsed_checked[session_id] = time.monotonic()
        # Retried: a claim whose COMMIT was lost holds its rows under our claimer name with
        # nobody fetching them; the end of our run (or of any run, once our lease lapses) puts
        # them back in the queue, so nothing is lost and no live worker gets them twice.
        return await self._write_again(
            frontier.claim, session_id, limit, now, self._claimer, self._claim_seconds()
        )

    def _claim_seconds(self) -> float:
        # Renewed with the run lease; a store holding no lease (a test, a tool) gets a long one.
        return self.lease_seconds if self._leases else max(self.lease_seconds, 300.0)

    async def next_due_time(self, session_id: str) -> float | None:
        try:
            return await self._read(frontier.next_due_time, session_id)
        except _NoSchema:
            return None

    async def requeue_fetching(self, session_id: str) -> int:
        """Claimed rows back to the queue, except those a live worker of the session holds."""
        return await self._write_again(workers.requeue_unheld, session_id, self._claimer)

    async def requeue_lost_content(self, session_id: str) -> int:
        return await self._write_again(frontier.requeue_lost_content, session_id)

    async def missing_content(self, pages: Sequence[PageRecord]) -> list[str]:
        """URLs of the done `pages` whose stored content is gone or empty (an export's check
        that what it names is still there)."""
        return await self._read(frontier.missing_content, list(pages))

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
        await self._fence(session_id)
        held = self._leases.get(session_id)
        lease = None if held is None else (held.token, time.time() + self.lease_seconds)
        return await self._write_again(
            frontier.checkpoint,
            session_id,
            list(results),
            progress,
            heartbeat,
            max_pages,
            self._claimer,
            lease,
            tally,
        )

    async def analytics_rows(self, session_id: str) -> list[AnalyticsRow]:
        try:
            return await self._read(analytics.read_rows, session_id)
        except _NoSchema:
            return []

    async def queued_by_host(self, session_id: str, limit: int = 50) -> dict[str, int]:
        try:
            return await self._read(analytics.queued_by_host, session_id, limit)
        except _NoSchema:
            return {}

    async def page_status(self, session_id: str, url: str) -> PageStatus | None:
        try:
            return await self._read(frontier.page_status, session_id, url)
        except _NoSchema:
            return None

    async def page_counts(self, session_id: str) -> dict[PageStatus, int]:
        try:
            return await self._read(frontier.page_counts, session_id)
        except _NoSchema:
            return dict.fromkeys(PageStatus, 0)

    async def iter_pages(
        self, session_id: str, *, status: PageStatus | None = None, batch: int = 500
    ) -> AsyncIterator[PageRecord]:
        after = 0
        while True:
            rows = await self.pages_after(session_id, status=status, after_id=after, limit=batch)
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            after = rows[-1].id

    async def previous_pages(self, session_id: str, urls: Sequence[str]) -> dict[str, PreviousPage]:
        """A recrawl's validators and stored content for `urls` (see ports.PreviousPages)."""
        try:
            return await self._read(validators.previous_pages, session_id, urls)
        except _NoSchema:
            return {}

    async def earlier_captures(
        self, session_id: str, urls: Sequence[str]
    ) -> dict[str, EarlierCapture]:
        """An earlier session's pages under `urls`, for WARC revisits (ports.EarlierCaptures)."""
        try:
            return await self._read(validators.earlier_captures, session_id, urls)
        except _NoSchema:
            return {}

    async def iter_page_states(
        self, session_id: str, *, batch: int = 1000
    ) -> AsyncIterator[PageState]:
        """The session's pages in URL order, one server-side cursor (see ports.PageStates)."""
        if self._empty:
            return
        if self._closed:
            raise DatabaseError(f"{self.where} is closed")
        try:
            async with self._pool.connection() as conn, conn.transaction():
                async for state in diff.page_states(conn, session_id, batch):
                    yield state
        except PoolTimeout as exc:
            raise ServerUnreachable(f"{self.where}: no connection ({exc})") from None
        except psycopg.Error as exc:
            raise translate(self.url, exc) from None

    async def pages_after(
        self,
        session_id: str,
        *,
        status: PageStatus | None = None,
        after_id: int = 0,
        limit: int = 200,
        search: str = "",
    ) -> list[PageRecord]:
        try:
            return await self._read(
                frontier.pages_after, session_id, status, after_id, limit, search
            )
        except _NoSchema:
            return []

    async def get_page(self, page_id: int) -> PageRecord:
        try:
            return await self._read(frontier.get_page, page_id)
        except _NoSchema:
            raise PageNotFound(page_id) from None

    async def seed_page(self, session_id: str) -> PageRecord | None:
        try:
            return await self._read(frontier.seed_page, session_id)
        except _NoSchema:
            return None

    async def recent_pages(self, session_id: str, limit: int) -> list[PageRecord]:
        try:
            return await self._read(frontier.recent_pages, session_id, limit)
        except _NoSchema:
            return []

    # host pacing (politeness shared by the session's workers) ----------------------------
    async def reserve_host(
        self, session_id: str, host: str, *, per_host: int, crawl_delay: float = 0.0
    ) -> HostStart | None:
        """One start on `host` for this worker (ports.HostPacing), or None while the host has
        `per_host` requests in flight over every worker; see backends/postgres/hosts.py."""
        slot_id = f"{self._claimer}:{next(self._slots)}"
        args = (session_id, host, self._claimer, slot_id, per_host, crawl_delay)
        granted = await self._write_again(hosts.reserve, *args)
        if granted is None:
            key = (session_id, host)
            swept = self._swept.get(key)
            if swept is not None and time.monotonic() - swept < _DEAD_SLOTS_EVERY_S:
                return None
            # Full: perhaps with the slots of a worker that died holding them.
            await self._write_again(hosts.sweep_dead, session_id, host)
            self._swept[key] = time.monotonic()
            if len(self._swept) > 4096:
                self._swept.clear()
            granted = await self._write_again(hosts.reserve, *args)
            if granted is None:
                return None
        wait, may_keep = granted
        return HostStart(slot_id=slot_id, host=host, wait_s=max(0.0, wait), may_keep=may_keep)

    async def release_host(self, session_id: str, start: HostStart) -> None:
        await self._write_again(hosts.release, start.slot_id)

    # control -----------------------------------------------------------------------------
    async def post_control(
        self,
        session_id: str,
        command: ControlCommand | str,
        *,
        who: str,
        args: Mapping[str, Any] | None = None,
    ) -> ControlRecord:
        checked = control_command(command)
        checked_args = control_args(checked, args)
        return await self._write(control.post, session_id, checked, checked_args, who)

    async def pending_controls(
        self, session_id: str, *, after_id: int = 0, limit: int = 100
    ) -> list[ControlRecord]:
        try:
            return await self._read(control.pending, session_id, after_id, limit)
        except _NoSchema:
            raise SessionNotFound(session_id) from None

    async def get_control(self, control_id: int) -> ControlRecord:
        try:
            return await self._read(control.get, control_id)
        except _NoSchema:
            raise ControlNotFound(control_id) from None

    async def mark_control_applied(self, control_id: int, *, outcome: str) -> bool:
        # Keyed on "not applied yet": a replay after a lost COMMIT changes nothing.
        return await self._write_again(control.mark_applied, control_id, outcome)

    # change notifications ----------------------------------------------------------------
    async def change_feed(self, session_id: str) -> notify.ChangeListener:
        """Wake-ups for a follower of the session (ports.ProgressFeed): LISTEN on a connection
        of the listener's own, a hint per checkpoint and state change."""
        return notify.ChangeListener(self.url, session_id)

    async def wait_for_change(self, session_id: str, timeout: float) -> bool:
        """Wait up to `timeout` s for a checkpoint of the session (LISTEN/NOTIFY: a wake-up
        hint only; what changed is read from the tables). True when one came."""
        conn = await connect(self.url, readonly=False)
        try:
            await conn.execute("LISTEN tui_scraper")
            async with asyncio.timeout(timeout):
                async for note in conn.notifies():
                    if notify.parse_payload(note.payload)[0] == session_id:
                        return True
        except TimeoutError:
            return False
        finally:
            await conn.close()
        return False


@one_statement
async def _alive_running(conn: Conn) -> set[str]:
    cursor = await conn.execute(
        "SELECT id FROM sessions WHERE status = 'running' AND session_owner_alive(id)"
    )
    return {r[0] for r in await cursor.fetchall()}


@one_statement
async def _dead_running(conn: Conn) -> list[tuple[str, str | None]]:
    cursor = await conn.execute(
        "SELECT id, lease_owner FROM sessions WHERE status = 'running' "
        "AND NOT session_owner_alive(id)"
    )
    return [(r[0], r[1]) for r in await cursor.fetchall()]


async def _db_now(conn: Conn) -> float:
    row = await (await conn.execute(_NOW_SQL)).fetchone()
    assert row is not None
    return float(row[0])


async def _acquire(
    conn: Conn,
    session_id: str,
    owner: str,
    held: _Held,
    ttl: float,
    who: str,
    reason: str,
    claimer: str,
) -> SessionRecord:
    current = await sessions.current_status(conn, session_id, lock=True)
    if current is Status.RUNNING:
        cursor = await conn.execute(
            "SELECT session_owner_alive(%s), lease_owner FROM sessions WHERE id = %s",
            (session_id, session_id),
        )
        row = await cursor.fetchone()
        assert row is not None
        if row[0]:
            info = parse_owner(row[1]) or {}
            pid, host = info.get("pid"), info.get("host")
            raise SessionBusy(
                session_id,
                pid if isinstance(pid, int) else None,
                host if isinstance(host, str) else None,
            )
        await _interrupt(conn, session_id, "owner process is gone", who)
    until = await _db_now(conn) + ttl
    record = await sessions.transition(
        conn,
        session_id,
        Status.RUNNING,
        reason=reason,
        who=who,
        lease=(owner, held.token, held.key, until),
    )
    # The owner is one of the session's workers too: a worker that joins sees it alive.
    await workers.register(conn, session_id, claimer, owner, held.key, ttl)
    return record


async def _interrupt(conn: Conn, session_id: str, reason: str, who: str) -> None:
    await sessions.transition(
        conn, session_id, Status.INTERRUPTED, reason=reason, who=who, expected=Status.RUNNING
    )
    await frontier.requeue_fetching(conn, session_id)


async def _reap_one(conn: Conn, session_id: str, reason: str, who: str) -> bool:
    """Settle one dead owner's session, checked again under the row lock."""
    cursor = await conn.execute(
        "SELECT status = 'running' AND NOT session_owner_alive(id) FROM sessions "
        "WHERE id = %s FOR UPDATE",
        (session_id,),
    )
    row = await cursor.fetchone()
    if row is None or not row[0]:
        return False
    await _interrupt(conn, session_id, reason, who)
    return True


async def _renew(conn: Conn, session_id: str, token: str, claimer: str, ttl: float) -> bool:
    cursor = await conn.execute(
        "UPDATE sessions SET lease_until = extract(epoch from clock_timestamp()) + %s "
        "WHERE id = %s AND status = 'running' AND lease_token = %s",
        (ttl, session_id, token),
    )
    if cursor.rowcount != 1:
        return False
    await workers.touch(conn, session_id, claimer, ttl)
    await frontier.renew_claims(conn, session_id, claimer, ttl)
    return True


if TYPE_CHECKING:

    def _implements_ports(store: Store) -> RuntimeStore:
        return store

    def _implements_planning(store: Store) -> PlanningStore:
        return store

    def _paces_hosts(store: Store) -> HostPacing:
        return store
