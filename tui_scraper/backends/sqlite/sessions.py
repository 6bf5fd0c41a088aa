"""Sessions, the state machine and the event log. Every function runs on a connection's
thread, inside the transaction `Database.read`/`Database.write` opened for it."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from ...domain.config import CrawlConfig
from ...domain.errors import (
    AmbiguousSessionId,
    InvalidTransition,
    NotDismissable,
    SessionNotFound,
)
from ...domain.records import EventRecord, SessionRecord
from ...domain.status import Status, is_allowed
from .rows import EVENT_COLUMNS, SESSION_COLUMNS, dumps, event_record, session_record


def create(conn: sqlite3.Connection, config: CrawlConfig, who: str) -> SessionRecord:
    session_id = uuid.uuid4().hex
    now = time.time()
    conn.execute(
        "INSERT INTO sessions (id, target_url, status, config, progress, created_at, "
        "last_updated, pages_total) VALUES (?, ?, 'pending', ?, '{}', ?, ?, 1)",
        (session_id, config.target_url, config.to_json(), now, now),
    )
    conn.execute(
        "INSERT INTO pages (session_id, url, depth, status) VALUES (?, ?, 0, 'queued')",
        (session_id, config.target_url),
    )
    # from/to stay NULL: the log's transitions replay from the implicit initial `pending`.
    insert_event(conn, session_id, "created", None, None, "created", who, now)
    return get(conn, session_id)


def get(conn: sqlite3.Connection, session_id: str) -> SessionRecord:
    row = conn.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
    found = row.fetchone()
    if found is None:
        raise SessionNotFound(session_id)
    return session_record(found)


def current_status(conn: sqlite3.Connection, session_id: str) -> Status:
    row = conn.execute("SELECT status FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise SessionNotFound(session_id)
    return Status(row[0])


def resolve_id(conn: sqlite3.Connection, ref: str) -> str:
    key = ref.strip().lower()
    if not key:
        raise SessionNotFound(ref)
    exact = conn.execute("SELECT id FROM sessions WHERE id = ?", (key,)).fetchone()
    if exact is not None:
        return str(exact[0])
    # The sessions table is small (one row per crawl); a prefix test over it is fine.
    rows = conn.execute(
        "SELECT id FROM sessions WHERE substr(id, 1, ?) = ? LIMIT 6", (len(key), key)
    ).fetchall()
    if not rows:
        raise SessionNotFound(ref)
    if len(rows) > 1:
        raise AmbiguousSessionId(ref, [r[0] for r in rows])
    return str(rows[0][0])


def list_all(conn: sqlite3.Connection) -> list[SessionRecord]:
    rows = conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at DESC, id DESC"
    ).fetchall()
    return [session_record(r) for r in rows]


def recoverable(conn: sqlite3.Connection) -> list[SessionRecord]:
    rows = conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE status IN ('interrupted', 'paused') "
        "AND dismissed_at IS NULL ORDER BY last_updated DESC, id DESC"
    ).fetchall()
    return [session_record(r) for r in rows]


def running_ids(conn: sqlite3.Connection) -> list[tuple[str, str | None]]:
    rows = conn.execute("SELECT id, lease_owner FROM sessions WHERE status = 'running'")
    return [(r[0], r[1]) for r in rows.fetchall()]


def transition(
    conn: sqlite3.Connection,
    session_id: str,
    wanted: Status,
    *,
    reason: str,
    who: str,
    expected: Status | None = None,
    error: str | None = None,
    lease_owner: str | None = None,
    kind: str = "transition",
) -> SessionRecord:
    """Compare-and-set the status plus one event row; the caller holds BEGIN IMMEDIATE."""
    current = current_status(conn, session_id)
    if expected is not None and current != expected:
        raise InvalidTransition(session_id, current, wanted)
    if not is_allowed(current, wanted):
        raise InvalidTransition(session_id, current, wanted)
    now = time.time()
    sets = ["status = ?"]
    params: list[Any] = [wanted.value]
    if wanted == Status.RUNNING:
        sets += ["start_time = coalesce(start_time, ?)", "dismissed_at = NULL"]
        sets += ["lease_owner = ?", "heartbeat_at = ?"]
        params += [now, lease_owner, now]
    if current == Status.RUNNING:
        sets.append("lease_owner = NULL")  # the lock file, not this column, proves life
    if wanted in (Status.COMPLETED, Status.FAILED):
        sets.append("end_time = ?")
        params.append(now)
    if error is not None:
        sets.append("error = ?")
        params.append(error)
    cursor = conn.execute(
        f"UPDATE sessions SET {', '.join(sets)} WHERE id = ? AND status = ?",
        (*params, session_id, current.value),
    )
    if cursor.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; kept as the CAS contract
        raise InvalidTransition(session_id, current_status(conn, session_id), wanted)
    insert_event(conn, session_id, kind, current, wanted, reason, who, now)
    return get(conn, session_id)


def dismiss(conn: sqlite3.Connection, session_id: str, who: str) -> SessionRecord:
    current = current_status(conn, session_id)
    if current not in (Status.PAUSED, Status.INTERRUPTED):
        raise NotDismissable(session_id, current)
    now = time.time()
    conn.execute(
        "UPDATE sessions SET dismissed_at = coalesce(dismissed_at, ?) WHERE id = ?",
        (now, session_id),
    )
    insert_event(conn, session_id, "dismissed", None, None, "hidden from recovery", who, now)
    return get(conn, session_id)


def set_summary(conn: sqlite3.Connection, session_id: str, summary: dict[str, Any]) -> None:
    cursor = conn.execute(
        "UPDATE sessions SET summary_results = ? WHERE id = ?", (dumps(summary), session_id)
    )
    if cursor.rowcount != 1:
        raise SessionNotFound(session_id)


def record_tuning(
    conn: sqlite3.Connection, session_id: str, config: CrawlConfig, reason: str, who: str
) -> SessionRecord:
    """The session's config replaced by a tuned one, and its `tuned` event: one transaction."""
    current_status(conn, session_id)  # SessionNotFound before anything is written
    now = time.time()
    conn.execute("UPDATE sessions SET config = ? WHERE id = ?", (config.to_json(), session_id))
    insert_event(conn, session_id, "tuned", None, None, reason, who, now)
    return get(conn, session_id)


def insert_event(
    conn: sqlite3.Connection,
    session_id: str,
    kind: str,
    from_status: Status | None,
    to_status: Status | None,
    reason: str,
    who: str,
    at: float | None = None,
) -> None:
    conn.execute(
        "INSERT INTO session_events (session_id, at, kind, from_status, to_status, reason, who) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
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


def add_event(conn: sqlite3.Connection, session_id: str, kind: str, reason: str, who: str) -> None:
    current_status(conn, session_id)  # SessionNotFound rather than an FK error
    insert_event(conn, session_id, kind, None, None, reason, who)


def events(conn: sqlite3.Connection, session_id: str) -> list[EventRecord]:
    current_status(conn, session_id)
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM session_events WHERE session_id = ? ORDER BY id",
        (session_id,),
    ).fetchall()
    return [event_record(r) for r in rows]
