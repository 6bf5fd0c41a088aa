"""The service's queue and the schedules (ports.QueuePort, ports.SchedulesPort) on PostgreSQL.

Each function runs inside the transaction the store opened for it (Store._write / Store._read).
Writes to the queue take one transaction-scoped advisory lock, so two writers never hand out
the same position or swap entries under each other.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

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

Conn = AsyncConnection[Any]
_QUEUE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tui-scraper:session_queue'))"


# the queue ---------------------------------------------------------------------------------
async def enqueue(conn: Conn, session_id: str) -> QueueEntry:
    status = await sessions.current_status(conn, session_id)
    if status is not Status.PENDING:
        raise NotQueueable(f"session {session_id[:8]} is {status.value}: only a pending one waits")
    await conn.execute(_QUEUE_LOCK)
    await conn.execute(
        "INSERT INTO session_queue (session_id, position, queued_at) "
        "VALUES (%s, (SELECT coalesce(max(position), 0) + 1 FROM session_queue), %s) "
        "ON CONFLICT (session_id) DO NOTHING",
        (session_id, time.time()),
    )
    return await _entry(conn, session_id)


async def entries(conn: Conn) -> list[QueueEntry]:
    cursor = await conn.execute(f"SELECT {QUEUE_COLUMNS} FROM session_queue ORDER BY position")
    return queue_entries(await cursor.fetchall())


async def move(conn: Conn, session_id: str, delta: int) -> QueueEntry:
    await conn.execute(_QUEUE_LOCK)
    entry = await _entry(conn, session_id)
    if entry.started_at is not None:
        raise NotQueueable(f"session {session_id[:8]} was started already")
    sql = "position < %s ORDER BY position DESC" if delta < 0 else "position > %s ORDER BY position"
    cursor = await conn.execute(
        f"SELECT session_id, position FROM session_queue WHERE started_at IS NULL AND {sql} "
        "LIMIT 1",
        (entry.position,),
    )
    other = await cursor.fetchone()
    if other is not None:
        await conn.execute(
            "UPDATE session_queue SET position = %s WHERE session_id = %s", (other[1], session_id)
        )
        await conn.execute(
            "UPDATE session_queue SET position = %s WHERE session_id = %s",
            (entry.position, other[0]),
        )
    return await _entry(conn, session_id)


async def remove(conn: Conn, session_id: str) -> bool:
    cursor = await conn.execute("DELETE FROM session_queue WHERE session_id = %s", (session_id,))
    return cursor.rowcount == 1


async def mark_started(conn: Conn, session_id: str, at: float) -> bool:
    cursor = await conn.execute(
        "UPDATE session_queue SET started_at = %s WHERE session_id = %s AND started_at IS NULL",
        (at, session_id),
    )
    return cursor.rowcount == 1


async def unmark_started(conn: Conn, session_id: str, started_at: float) -> bool:
    cursor = await conn.execute(
        "UPDATE session_queue SET started_at = NULL WHERE session_id = %s AND started_at = %s",
        (session_id, started_at),
    )
    return cursor.rowcount == 1


async def _entry(conn: Conn, session_id: str) -> QueueEntry:
    for entry in await entries(conn):
        if entry.session_id == session_id:
            return entry
    raise NotQueueable(f"session {session_id[:8]} is not in the queue")


# schedules ---------------------------------------------------------------------------------
async def add_schedule(conn: Conn, spec: ScheduleSpec) -> ScheduleRecord:
    schedule_id = uuid.uuid4().hex
    now = time.time()
    await conn.execute(
        "INSERT INTO schedules (id, config, every_s, cron, tz, missed, paused, next_run_at, "
        "created_at) VALUES (%s, %s::jsonb, %s, %s, %s, %s, false, %s, %s)",
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
    return await get_schedule(conn, schedule_id)


async def update_schedule(conn: Conn, schedule_id: str, spec: ScheduleSpec) -> ScheduleRecord:
    await get_schedule(conn, schedule_id)
    await conn.execute(
        "UPDATE schedules SET config = %s::jsonb, every_s = %s, cron = %s, tz = %s, "
        "missed = %s, next_run_at = %s WHERE id = %s",
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
    return await get_schedule(conn, schedule_id)


async def list_schedules(conn: Conn) -> list[ScheduleRecord]:
    cursor = await conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE removed_at IS NULL ORDER BY created_at, id"
    )
    return [schedule_record(r) for r in await cursor.fetchall()]


async def get_schedule(conn: Conn, schedule_id: str) -> ScheduleRecord:
    cursor = await conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = %s AND removed_at IS NULL",
        (schedule_id,),
    )
    row = await cursor.fetchone()
    if row is None:
        raise ScheduleNotFound(schedule_id)
    return schedule_record(row)


async def resolve_schedule(conn: Conn, ref: str) -> str:
    key = ref.strip().lower()
    if not key or any(ch not in "0123456789abcdef" for ch in key):
        raise ScheduleNotFound(ref)
    cursor = await conn.execute(
        "SELECT id FROM schedules WHERE removed_at IS NULL AND left(id, %s) = %s LIMIT 2",
        (len(key), key),
    )
    rows = await cursor.fetchall()
    if not rows:
        raise ScheduleNotFound(ref)
    if len(rows) > 1:
        raise AmbiguousScheduleId(ref, len(rows))
    return str(rows[0][0])


async def remove_schedule(conn: Conn, schedule_id: str) -> bool:
    cursor = await conn.execute(
        "UPDATE schedules SET removed_at = %s WHERE id = %s AND removed_at IS NULL",
        (time.time(), schedule_id),
    )
    return cursor.rowcount == 1


async def set_paused(
    conn: Conn, schedule_id: str, paused: bool, next_run_at: float | None
) -> ScheduleRecord:
    await get_schedule(conn, schedule_id)
    await conn.execute(
        "UPDATE schedules SET paused = %s, next_run_at = coalesce(%s, next_run_at) WHERE id = %s",
        (paused, next_run_at, schedule_id),
    )
    return await get_schedule(conn, schedule_id)


async def fire(
    conn: Conn,
    schedule_id: str,
    due_at: float,
    next_run_at: float,
    outcome: RunOutcome,
    detail: str,
    who: str,
) -> ScheduleRun | None:
    """See the SQLite twin: a compare-and-set on the due time, the run and its session in one
    transaction."""
    cursor = await conn.execute(
        "UPDATE schedules SET next_run_at = %s WHERE id = %s AND next_run_at = %s "
        "AND NOT paused AND removed_at IS NULL",
        (next_run_at, schedule_id, due_at),
    )
    if cursor.rowcount != 1:
        return None
    record = await get_schedule(conn, schedule_id)
    session_id: str | None = None
    if outcome == "started":
        session = await sessions.create(conn, record.config, who)
        session_id = session.id
        await sessions.add_event(
            conn, session_id, "scheduled", f"run of schedule {schedule_id[:8]}", who
        )
        await enqueue(conn, session_id)
    now = time.time()
    cursor = await conn.execute(
        "INSERT INTO schedule_runs (schedule_id, session_id, at, outcome, detail) "
        f"VALUES (%s, %s, %s, %s, %s) RETURNING {RUN_COLUMNS}",
        (schedule_id, session_id, now, outcome, detail),
    )
    row = await cursor.fetchone()
    assert row is not None
    await conn.execute(
        "UPDATE schedules SET last_run_at = %s, last_outcome = %s, last_detail = %s, "
        "last_session_id = coalesce(%s, last_session_id) WHERE id = %s",
        (now, outcome, detail, session_id, schedule_id),
    )
    return schedule_run(row)


async def runs(conn: Conn, schedule_id: str, limit: int) -> list[ScheduleRun]:
    cursor = await conn.execute(
        f"SELECT {RUN_COLUMNS} FROM schedule_runs WHERE schedule_id = %s ORDER BY id DESC LIMIT %s",
        (schedule_id, limit),
    )
    return [schedule_run(r) for r in await cursor.fetchall()]


async def schedule_of_session(conn: Conn, session_id: str) -> str | None:
    cursor = await conn.execute(
        "SELECT schedule_id FROM schedule_runs WHERE session_id = %s LIMIT 1", (session_id,)
    )
    row = await cursor.fetchone()
    return None if row is None else str(row[0])


class PlanningMethods:
    """The store's face of the queue and the schedules (ports.QueuePort, ports.SchedulesPort),
    mixed into `Store`. Reads and compare-and-set writes are retried while the server is out
    of reach; the writes that create something (enqueue, add, fire's session) are not, except
    `fire`, which is a compare-and-set on the due time and so lands once."""

    if TYPE_CHECKING:

        async def _read(self, fn: Any, /, *args: Any, **kw: Any) -> Any: ...

        async def _write(self, fn: Any, /, *args: Any, **kw: Any) -> Any: ...

        async def _write_again(self, fn: Any, /, *args: Any, **kw: Any) -> Any: ...

    async def enqueue_session(self, session_id: str) -> QueueEntry:
        entry: QueueEntry = await self._write_again(enqueue, session_id)
        return entry

    async def queue_entries(self) -> list[QueueEntry]:
        found: list[QueueEntry] = await self._read(entries)
        return found

    async def move_queued(self, session_id: str, delta: int) -> QueueEntry:
        entry: QueueEntry = await self._write(move, session_id, delta)
        return entry

    async def remove_queued(self, session_id: str) -> bool:
        return bool(await self._write_again(remove, session_id))

    async def mark_queue_started(self, session_id: str, at: float) -> bool:
        return bool(await self._write(mark_started, session_id, at))

    async def unmark_queue_started(self, session_id: str, started_at: float) -> bool:
        return bool(await self._write(unmark_started, session_id, started_at))

    async def add_schedule(self, spec: ScheduleSpec) -> ScheduleRecord:
        record: ScheduleRecord = await self._write(add_schedule, spec)
        return record

    async def update_schedule(self, schedule_id: str, spec: ScheduleSpec) -> ScheduleRecord:
        record: ScheduleRecord = await self._write_again(update_schedule, schedule_id, spec)
        return record

    async def list_schedules(self) -> list[ScheduleRecord]:
        found: list[ScheduleRecord] = await self._read(list_schedules)
        return found

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord:
        record: ScheduleRecord = await self._read(get_schedule, schedule_id)
        return record

    async def resolve_schedule(self, ref: str) -> str:
        return str(await self._read(resolve_schedule, ref))

    async def remove_schedule(self, schedule_id: str) -> bool:
        return bool(await self._write_again(remove_schedule, schedule_id))

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_run_at: float | None = None
    ) -> ScheduleRecord:
        record: ScheduleRecord = await self._write_again(
            set_paused, schedule_id, paused, next_run_at
        )
        return record

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
        run: ScheduleRun | None = await self._write(
            fire, schedule_id, due_at, next_run_at, outcome, detail, who
        )
        return run

    async def schedule_runs(self, schedule_id: str, *, limit: int = 50) -> list[ScheduleRun]:
        found: list[ScheduleRun] = await self._read(runs, schedule_id, limit)
        return found

    async def schedule_of_session(self, session_id: str) -> str | None:
        found: str | None = await self._read(schedule_of_session, session_id)
        return found
