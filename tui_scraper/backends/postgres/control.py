"""The session_control table: commands to a session, posted by clients, applied by its worker."""

from __future__ import annotations

import json
import time
from typing import Any

from psycopg import AsyncConnection

from ...domain.errors import ControlNotFound
from ...domain.records import ControlCommand, ControlRecord
from . import sessions
from .rows import CONTROL_COLUMNS, control_record, one_statement

Conn = AsyncConnection[Any]


async def post(
    conn: Conn, session_id: str, command: ControlCommand, args: dict[str, Any], who: str
) -> ControlRecord:
    await sessions.current_status(conn, session_id)
    # Ids must become visible in the order they were given out (a worker lists those after the
    # last it handled): posts to one session take this lock, held until their COMMIT, so a
    # later id never commits before an earlier one.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('control:' || %s))", (session_id,))
    cursor = await conn.execute(
        "INSERT INTO session_control (session_id, command, args, who, requested_at) "
        f"VALUES (%s, %s, %s::jsonb, %s, %s) RETURNING {CONTROL_COLUMNS}",
        (session_id, command.value, json.dumps(args, sort_keys=True), who, time.time()),
    )
    row = await cursor.fetchone()
    assert row is not None
    return control_record(row)


@one_statement
async def get(conn: Conn, control_id: int) -> ControlRecord:
    cursor = await conn.execute(
        f"SELECT {CONTROL_COLUMNS} FROM session_control WHERE id = %s", (control_id,)
    )
    row = await cursor.fetchone()
    if row is None:
        raise ControlNotFound(control_id)
    return control_record(row)


async def pending(conn: Conn, session_id: str, after_id: int, limit: int) -> list[ControlRecord]:
    await sessions.current_status(conn, session_id)
    cursor = await conn.execute(
        f"SELECT {CONTROL_COLUMNS} FROM session_control WHERE session_id = %s "
        "AND applied_at IS NULL AND id > %s ORDER BY id LIMIT %s",
        (session_id, after_id, limit),
    )
    return [control_record(r) for r in await cursor.fetchall()]


async def mark_applied(conn: Conn, control_id: int, outcome: str) -> bool:
    cursor = await conn.execute(
        "UPDATE session_control SET applied_at = %s, outcome = %s "
        "WHERE id = %s AND applied_at IS NULL",
        (time.time(), outcome, control_id),
    )
    if cursor.rowcount == 1:
        return True
    await get(conn, control_id)
    return False
