"""Sessions, the state machine and the event log: each function runs inside the transaction the
store opened for it (Store._write / Store._read), on one connection."""

from __future__ import annotations

import time
import uuid
from typing import Any

from psycopg import AsyncConnection

from ...domain.config import CrawlConfig
from ...domain.errors import AmbiguousSessionId, InvalidTransition, NotDismissable, SessionNotFound
from ...domain.records import EventRecord, SessionRecord
from ...domain.status import Status
from .rows import EVENT_COLUMNS, SESSION_COLUMNS, dumps, event_record, one_statement, session_record

Conn = AsyncConnection[Any]


async def create(conn: Conn, config: CrawlConfig, who: str) -> SessionRecord:
    session_id = uuid.uuid4().hex
    now = time.time()
    await conn.execute(
        "INSERT INTO sessions (id, target_url, status, config, progress, created_at, "
        "last_updated, pages_total) VALUES (%s, %s, 'pending', %s::jsonb, '{}', %s, %s, 1)",
        (session_id, config.target_url, config.to_json(), now, now),
    )
    await conn.execute(
        "INSERT INTO pages (session_id, url, depth, status) VALUES (%s, %s, 0, 'queued')",
        (session_id, config.target_url),
    )
    await insert_event(conn, session_id, "created", None, None, "created", who, now)
    return await get(conn, session_id)


@one_statement
async def get(conn: Conn, session_id: str) -> SessionRecord:
    cursor = await conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = %s", (session_id,)
    )
    row = await cursor.fetchone()
    if row is None:
        raise SessionNotFound(session_id)
    return session_record(row)


async def current_status(conn: Conn, session_id: str, *, lock: bool = False) -> Status:
    sql = "SELECT status FROM sessions WHERE id = %s" + (" FOR UPDATE" if lock else "")
    row = await (await conn.execute(sql, (session_id,))).fetchone()
    if row is None:
        raise SessionNotFound(session_id)
    return Status(row[0])


async def resolve_id(conn: Conn, ref: str) -> str:
    key = ref.strip().lower()
    if not key:
        raise SessionNotFound(ref)
    exact = await (await conn.execute("SELECT id FROM sessions WHERE id = %s", (key,))).fetchone()
    if exact is not None:
        return str(exact[0])
    rows = await (
        await conn.execute(
            "SELECT id FROM sessions WHERE left(id, %s) = %s LIMIT 6", (len(key), key)
        )
    ).fetchall()
    if not rows:
        raise SessionNotFound(ref)
    if len(rows) > 1:
        raise AmbiguousSessionId(ref, [r[0] for r in rows])
    return str(rows[0][0])


@one_statement
async def list_all(conn: Conn) -> list[SessionRecord]:
    cursor = await conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at DESC, id DESC"
    )
    return [session_record(r) for r in await cursor.fetchall()]


@one_statement
async def recoverable(conn: Conn) -> list[SessionRecord]:
    cursor = await conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE status IN ('interrupted', 'paused') "
        "AND dismissed_at IS NULL ORDER BY last_updated DESC, id DESC"
    )
    return [session_record(r) for r in await cursor.fetchall()]


async def transition(
    conn: Conn,
    session_id: str,
    wanted: Status,
    *,
    reason: str,
    who: str,
    expected: Status | None = None,
    error: str | None = None,
    lease: tuple[str, str, int, float] | None = None,
    kind: str = "transition",
) -> SessionRecord:
    """transition_session_state(): the compare-and-set and its event, in the database.
    `lease` is (owner text, token, lock key, until) for a move to running."""
    owner, token, key, until = lease if lease is not None else (None, None, None, None)
    cursor = await conn.execute(
        "SELECT transition_session_state(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            session_id,
            wanted.value,
            None if expected is None else expected.value,
            reason,
            who,
            error,
            owner,
            token,
            key,
            until,
            kind,
        ),
    )
    row = await cursor.fetchone()
    refused = None if row is None else row[0]
    if refused == "missing":
        raise SessionNotFound(session_id)
    if refused is not None:
        raise InvalidTransition(session_id, Status(refused), wanted)
    return await get(conn, session_id)


async def dismiss(conn: Conn, session_id: str, who: str) -> SessionRecord:
    current = await current_status(conn, session_id, lock=True)
    if current not in (Status.PAUSED, Status.INTERRUPTED):
        raise NotDismissable(session_id, current)
    now = time.time()
    await conn.execute(
        "UPDATE sessions SET dismissed_at = coalesce(dismissed_at, %s) WHERE id = %s",
        (now, session_id),
    )
    await insert_event(conn, session_id, "dismissed", None, None, "hidden from recovery", who, now)
    return await get(conn, session_id)


@one_statement
async def set_summary(conn: Conn, session_id: str, summary: dict[str, Any]) -> None:
    cursor = await conn.execute(
        "UPDATE sessions SET summary_results = %s::jsonb WHERE id = %s",
        (dumps(summary), session_id),
    )
    if cursor.rowcount != 1:
        raise SessionNotFound(session_id)


async def record_tuning(
    conn: Conn, session_id: str, config: CrawlConfig, reason: str, who: str
) -> SessionRecord:
    await current_status(conn, session_id, lock=True)
    now = time.time()
    await conn.execute(
        "UPDATE sessions SET config = %s::jsonb WHERE id = %s", (config.to_json(), session_id)
    )
    await insert_event(conn, session_id, "tuned", None, None, reason, who, now)
    return await get(conn, session_id)


async def insert_event(
    conn: Conn,
    session_id: str,
    kind: str,
    from_status: Status | None,
    to_status: Status | None,
    reason: str,
    who: str,
    at: float | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO session_events (session_id, at, kind, from_status, to_status, reason, who) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            session_id,
            time.time() if at is None else at,
            kind,
            None if from_status is None else from_status.value,
            None if to_status is None else to_status.value,
            reason,
            who,
        ),
    )


async def add_event(conn: Conn, session_id: str, kind: str, reason: str, who: str) -> None:
    await current_status(conn, session_id)
    await insert_event(conn, session_id, kind, None, None, reason, who)


async def events(conn: Conn, session_id: str) -> list[EventRecord]:
    await current_status(conn, session_id)
    cursor = await conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM session_events WHERE session_id = %s ORDER BY id",
        (session_id,),
    )
    return [event_record(r) for r in await cursor.fetchall()]
