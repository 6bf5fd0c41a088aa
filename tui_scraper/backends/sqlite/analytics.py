"""The session_analytics table on SQLite: rows added in a checkpoint, read back whole."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ...domain.analytics import AnalyticsRow

__all__ = ["add_rows", "read_rows"]

# One row per (interval, metric, key); a checkpoint adds to it (SQLite's upsert, 3.24+).
_ADD_SQL = (
    "INSERT INTO session_analytics (session_id, bucket, metric, key, n) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (session_id, bucket, metric, key) DO UPDATE SET n = n + excluded.n"
)


def add_rows(conn: sqlite3.Connection, session_id: str, rows: Sequence[AnalyticsRow]) -> None:
    """In the caller's (checkpoint's) transaction."""
    if rows:
        conn.executemany(_ADD_SQL, [(session_id, b, m, k, n) for b, m, k, n in rows])


def read_rows(conn: sqlite3.Connection, session_id: str) -> list[AnalyticsRow]:
    """Every row of the session; none from a database of a schema before analytics (a
    read-only store does not migrate the file it reads)."""
    try:
        cursor = conn.execute(
            "SELECT bucket, metric, key, n FROM session_analytics WHERE session_id = ?",
            (session_id,),
        )
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    return [(int(b), str(m), str(k), int(n)) for b, m, k, n in cursor.fetchall()]
