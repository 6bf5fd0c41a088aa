"""The control table: commands to a session, posted by clients and applied by its worker.

On a connection's thread, inside the transaction `Database.read`/`Database.write` opened.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from ...domain.errors import ControlNotFound
from ...domain.records import ControlCommand, ControlRecord
from . import sessions
from .rows import CONTROL_COLUMNS, control_record

_TABLE = "session_control"


def post(
    conn: sqlite3.Connection,
    session_id: str,
    command: ControlCommand,
    args: dict[str, Any],
    who: str,
) -> ControlRecord:
    sessions.current_status(conn, session_id)  # SessionNotFound rather than an FK error
    cursor = conn.execute(
        f"INSERT INTO {_TABLE} (session_id, command, args, who, requested_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (session_id, command.value, json.dumps(args, sort_keys=True), who, time.time()),
    )
    control_id = cursor.lastrowid
    assert control_id is not None  # set by every INSERT into a rowid table
    return get(conn, control_id)


def get(conn: sqlite3.Connection, control_id: int) -> ControlRecord:
    if not _table_exists(conn):
        raise ControlNotFound(control_id)
    row = conn.execute(
        f"SELECT {CONTROL_COLUMNS} FROM {_TABLE} WHERE id = ?", (control_id,)
    ).fetchone()
    if row is None:
        raise ControlNotFound(control_id)
    return control_record(row)


def pending(
    conn: sqlite3.Connection, session_id: str, after_id: int, limit: int
) -> list[ControlRecord]:
    """The session's commands not yet applied, with ids above `after_id`, oldest first."""
    sessions.current_status(conn, session_id)
    if not _table_exists(conn):
        return []  # a read-only store on a database older than the table: nothing was posted
    rows = conn.execute(
        f"SELECT {CONTROL_COLUMNS} FROM {_TABLE} WHERE session_id = ? AND applied_at IS NULL "
        "AND id > ? ORDER BY id LIMIT ?",
        (session_id, after_id, limit),
    ).fetchall()
    return [control_record(r) for r in rows]


def mark_applied(conn: sqlite3.Connection, control_id: int, outcome: str) -> bool:
    """Compare-and-set: True when this call applied it, False when it was applied already (the
    first outcome stays; two workers racing for one command cannot both act on it)."""
    cursor = conn.execute(
        f"UPDATE {_TABLE} SET applied_at = ?, outcome = ? WHERE id = ? AND applied_at IS NULL",
        (time.time(), outcome, control_id),
    )
    if cursor.rowcount == 1:
        return True
    get(conn, control_id)  # ControlNotFound for an id nobody posted
    return False


def _table_exists(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_TABLE,)
    ).fetchone()
    return row is not None
