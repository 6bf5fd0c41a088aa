"""The session_analytics table on SQLite: rows added in a checkpoint, read back whole."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ...domain.analytics import AnalyticsRow

__all__ = ["add_rows", "queued_by_host", "read_rows"]

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


# The host as the analytics count it (engine/analytics.py): a canonical URL's authority,
# "host[:port]", between "://" and the next "/" (canonical URLs always have a path).
_QUEUED_BY_HOST_SQL = (
    "SELECT host, count(*) AS n FROM ("
    " SELECT substr(rest, 1, instr(rest, '/') - 1) AS host FROM ("
    "  SELECT substr(url, instr(url, '://') + 3) AS rest FROM pages"
    "  WHERE session_id = ? AND status IN ('queued', 'fetching'))"
    ") GROUP BY host ORDER BY n DESC, host LIMIT ?"
)


def queued_by_host(conn: sqlite3.Connection, session_id: str, limit: int) -> dict[str, int]:
    """Pages waiting (queued or being fetched) per host, the `limit` hosts with most. A scan of
    the session's waiting rows (the frontier index's range): asked for only on demand."""
    rows = conn.execute(_QUEUED_BY_HOST_SQL, (session_id, limit)).fetchall()
    return {str(host): int(n) for host, n in rows}
