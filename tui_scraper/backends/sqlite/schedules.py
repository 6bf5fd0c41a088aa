"""The service's queue and the schedules (ports.QueuePort, ports.SchedulesPort) on SQLite.

On a connection's thread, inside the transaction `Database.read`/`Database.write` opened.
"""

from __future__ import annotations

import sqlite3
import time
import uuid

from ...domain.schedules import (
    AmbiguousScheduleId,
    NotQueueable,
    QueueEntry,
    RunOutcome,
    ScheduleNotFound,
    ScheduleRecord,
    ScheduleRun,
    ScheduleSpec,
)
from ...domain.status import Status
from ..schedule_rows import (
    QUEUE_COLUMNS,
    RUN_COLUMNS,
    SCHEDULE_COLUMNS,
    queue_entries,
    schedule_record,
    schedule_run,
)
from . import sessions
from .db import Database


# the queue ---------------------------------------------------------------------------------
def enqueue(conn: sqlite3.Connection, session_id: str) -> QueueEntry:
    """Append a pending session to the queue (an entry already there stays where it is)."""
    status = sessions.current_status(conn, session_id)
    if status is not Status.PENDING:
        raise NotQueueable(f"session {session_id[:8]} is {status.value}: only a pending one waits")
    conn.execute(
        "INSERT OR IGNORE INTO session_queue (session_id, position, queued_at) "
        "VALUES (?, (SELECT coalesce(max(position), 0) + 1 FROM session_queue), ?)",
        (session_id, time.time()),
    )
    return _entry(conn, session_id)


def entries(conn: sqlite3.Connection) -> list[QueueEntry]:
    if not _has_tables(conn):
        return []  # a read-only look at a database older than the queue: nothing is queued
    rows = conn.execute(f"SELECT {QUEUE_COLUMNS} FROM session_queue ORDER BY position").fetchall()
    return queue_entries(rows)


def move(conn: sqlite3.Connection, session_id: str, delta: int) -> QueueEntry:
    """One place up (delta < 0) or down among the waiting entries; at an end nothing moves."""
    entry = _entry(conn, session_id)
    if entry.started_at is not None:
        raise NotQueueable(f"session {session_id[:8]} was started already")
    sql = "position < ? ORDER BY position DESC" if delta < 0 else "position > ? ORDER BY position"
    other = conn.execute(
        f"SELECT session_id, position FROM session_queue WHERE started_at IS NULL AND {sql} "
        "LIMIT 1",
        (entry.position,),
    ).fetchone()
    if other is not None:
        conn.execute(
            "UPDATE session_queue SET position = ? WHERE session_id = ?", (other[1], session_id)
        )
        conn.execute(
            "UPDATE session_queue SET position = ? WHERE session_id = ?", (entry.position, other[0])
        )
    return _entry(conn, session_id)


def remove(conn: sqlite3.Connection, session_id: str) -> bool:
    cursor = conn.execute("DELETE FROM session_queue WHERE session_id = ?", (session_id,))
    return cursor.rowcount == 1


def mark_started(conn: sqlite3.Connection, session_id: str, at: float) -> bool:
    """Compare-and-set: True when this call marked the waiting entry started."""
    cursor = conn.execute(
        "UPDATE session_queue SET started_at = ? WHERE session_id = ? AND started_at IS NULL",
        (at, session_id),
    )
    return cursor.rowcount == 1


def unmark_started(conn: sqlite3.Connection, session_id: str, started_at: float) -> bool:
    """A start that never happened (the worker refused or died first): waiting again."""
    cursor = conn.execute(
        "UPDATE session_queue SET started_at = NULL WHERE session_id = ? AND started_at = ?",
        (session_id, started_at),
    )
    return cursor.rowcount == 1


def _entry(conn: sqlite3.Connection, session_id: str) -> QueueEntry:
    for entry in entries(conn):
        if entry.session_id == session_id:
            return entry
    raise NotQueueable(f"session {session_id[:8]} is not in the queue")


# schedules ---------------------------------------------------------------------------------
def add_schedule(conn: sqlite3.Connection, spec: ScheduleSpec) -> ScheduleRecord:
    schedule_id = uuid.uuid4().hex
    now = time.time()
    conn.execute(
        "INSERT INTO schedules (id, config, every_s, cron, tz, missed, paused, next_run_at, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (
            schedule_id,
            spec.config.to_json(),
            spec.every_s,
            spec.cron,
            spec.tz,
            spec.missed,
            spec.first_run(now),
            now,
        ),
    )
    return get_schedule(conn, schedule_id)


def update_schedule(
    conn: sqlite3.Connection, schedule_id: str, spec: ScheduleSpec
) -> ScheduleRecord:
    """A new crawl and timing for the schedule; its next run counted from now. Its runs stay."""
    get_schedule(conn, schedule_id)
    conn.execute(
        "UPDATE schedules SET config = ?, every_s = ?, cron = ?, tz = ?, missed = ?, "
        "next_run_at = ? WHERE id = ?",
        (
            spec.config.to_json(),
            spec.every_s,
            spec.cron,
            spec.tz,
            spec.missed,
            spec.first_run(time.time()),
            schedule_id,
        ),
    )
    return get_schedule(conn, schedule_id)


def list_schedules(conn: sqlite3.Connection) -> list[ScheduleRecord]:
    if not _has_tables(conn):
        return []
    rows = conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE removed_at IS NULL ORDER BY created_at, id"
    ).fetchall()
    return [schedule_record(r) for r in rows]


def get_schedule(conn: sqlite3.Connection, schedule_id: str) -> ScheduleRecord:
    row = conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = ? AND removed_at IS NULL",
        (schedule_id,),
    ).fetchone()
    if row is None:
        raise ScheduleNotFound(schedule_id)
    return schedule_record(row)


def resolve_schedule(conn: sqlite3.Connection, ref: str) -> str:
    key = ref.strip().lower()
    if not key or any(ch not in "0123456789abcdef" for ch in key):
        raise ScheduleNotFound(ref)
    rows = conn.execute(
        "SELECT id FROM schedules WHERE removed_at IS NULL AND substr(id, 1, ?) = ? LIMIT 2",
        (len(key), key),
    ).fetchall()
    if not rows:
        raise ScheduleNotFound(ref)
    if len(rows) > 1:
        raise AmbiguousScheduleId(ref, len(rows))
    return str(rows[0][0])


def remove_schedule(conn: sqlite3.Connection, schedule_id: str) -> bool:
    cursor = conn.execute(
        "UPDATE schedules SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
        (time.time(), schedule_id),
    )
    return cursor.rowcount == 1


def set_paused(
    conn: sqlite3.Connection, schedule_id: str, paused: bool, next_run_at: float | None
) -> ScheduleRecord:
    get_schedule(conn, schedule_id)
    conn.execute(
        "UPDATE schedules SET paused = ?, next_run_at = coalesce(?, next_run_at) WHERE id = ?",
        (1 if paused else 0, next_run_at, schedule_id),
    )
    return get_schedule(conn, schedule_id)


def fire(
    conn: sqlite3.Connection,
    schedule_id: str,
    due_at: float,
    next_run_at: float,
    outcome: RunOutcome,
    detail: str,
    who: str,
) -> ScheduleRun | None:
    """The schedule came due at `due_at`: its next time becomes `next_run_at` and the run is
    recorded, with a new queued session when `outcome` is "started", all in this transaction.
    A compare-and-set on the due time: None when it was fired already (or paused, removed)."""
    cursor = conn.execute(
        "UPDATE schedules SET next_run_at = ? WHERE id = ? AND next_run_at = ? AND paused = 0 "
        "AND removed_at IS NULL",
        (next_run_at, schedule_id, due_at),
    )
    if cursor.rowcount != 1:
        return None
    record = get_schedule(conn, schedule_id)
    session_id: str | None = None
    if outcome == "started":
        session = sessions.create(conn, record.config, who)
        session_id = session.id
        sessions.add_event(conn, session_id, "scheduled", f"run of schedule {schedule_id[:8]}", who)
        enqueue(conn, session_id)
    now = time.time()
    cursor = conn.execute(
        "INSERT INTO schedule_runs (schedule_id, session_id, at, outcome, detail) "
        "VALUES (?, ?, ?, ?, ?)",
        (schedule_id, session_id, now, outcome, detail),
    )
    conn.execute(
        "UPDATE schedules SET last_run_at = ?, last_outcome = ?, last_detail = ?, "
        "last_session_id = coalesce(?, last_session_id) WHERE id = ?",
        (now, outcome, detail, session_id, schedule_id),
    )
    run_id = cursor.lastrowid
    assert run_id is not None
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM schedule_runs WHERE id = ?", (run_id,))
    return schedule_run(row.fetchone())


def runs(conn: sqlite3.Connection, schedule_id: str, limit: int) -> list[ScheduleRun]:
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM schedule_runs WHERE schedule_id = ? ORDER BY id DESC LIMIT ?",
        (schedule_id, limit),
    ).fetchall()
    return [schedule_run(r) for r in rows]


def schedule_of_session(conn: sqlite3.Connection, session_id: str) -> str | None:
    if not _has_tables(conn):
        return None
    row = conn.execute(
        "SELECT schedule_id FROM schedule_runs WHERE session_id = ? LIMIT 1", (session_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schedule_runs'"
    ).fetchone()
    return row is not None


class PlanningMethods:
    """The store's face of the queue and the schedules (ports.QueuePort, ports.SchedulesPort),
    mixed into `Store`: writes on the writer, reads on the reader."""

    _db: Database

    async def enqueue_session(self, session_id: str) -> QueueEntry:
        return await self._db.write(enqueue, session_id)

    async def queue_entries(self) -> list[QueueEntry]:
        return await self._db.read(entries)

    async def move_queued(self, session_id: str, delta: int) -> QueueEntry:
        return await self._db.write(move, session_id, delta)

    async def remove_queued(self, session_id: str) -> bool:
        return await self._db.write(remove, session_id)

    async def mark_queue_started(self, session_id: str, at: float) -> bool:
        return await self._db.write(mark_started, session_id, at)

    async def unmark_queue_started(self, session_id: str, started_at: float) -> bool:
        return await self._db.write(unmark_started, session_id, started_at)

    async def add_schedule(self, spec: ScheduleSpec) -> ScheduleRecord:
        return await self._db.write(add_schedule, spec)

    async def update_schedule(self, schedule_id: str, spec: ScheduleSpec) -> ScheduleRecord:
        return await self._db.write(update_schedule, schedule_id, spec)

    async def list_schedules(self) -> list[ScheduleRecord]:
        return await self._db.read(list_schedules)

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord:
        return await self._db.read(get_schedule, schedule_id)

    async def resolve_schedule(self, ref: str) -> str:
        return await self._db.read(resolve_schedule, ref)

    async def remove_schedule(self, schedule_id: str) -> bool:
        return await self._db.write(remove_schedule, schedule_id)

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_run_at: float | None = None
    ) -> ScheduleRecord:
        return await self._db.write(set_paused, schedule_id, paused, next_run_at)

    async def fire_schedule(
        self,
        schedule_id: str,
        *,
        due_at: float,
        next_run_at: float,
        outcome: RunOutcome,
        detail: str,
        who: str,
    ) -> ScheduleRun | None:
        return await self._db.write(fire, schedule_id, due_at, next_run_at, outcome, detail, who)

    async def schedule_runs(self, schedule_id: str, *, limit: int = 50) -> list[ScheduleRun]:
        return await self._db.read(runs, schedule_id, limit)

    async def schedule_of_session(self, session_id: str) -> str | None:
        return await self._db.read(schedule_of_session, session_id)
