"""The session_analytics table on PostgreSQL: rows added in a checkpoint, read back whole."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import AsyncConnection

from ...domain.analytics import AnalyticsRow
from ...domain.records import PageResult
from .rows import one_statement

__all__ = ["add_rows", "queued_by_host", "read_rows", "written_results"]

Conn = AsyncConnection[Any]

# One statement for the whole batch; the tally gives each (bucket, metric, key) once, as ON
# CONFLICT DO UPDATE requires.
_ADD_SQL = (
    "INSERT INTO session_analytics (session_id, bucket, metric, key, n) "
    "SELECT %(session)s, b, m, k, n FROM unnest(%(buckets)s::bigint[], %(metrics)s::text[], "
    "%(keys)s::text[], %(counts)s::bigint[]) AS v(b, m, k, n) "
    "ON CONFLICT (session_id, bucket, metric, key) "
    "DO UPDATE SET n = session_analytics.n + excluded.n"
)


def written_results(results: Iterable[PageResult], counted: set[int]) -> list[PageResult]:
    """The results to count: the rows this checkpoint wrote (`counted`), each with the redirect
    target that follows its source."""
    written: list[PageResult] = []
    source_kept = False
    for r in results:
        if r.page_id is not None:
            source_kept = r.page_id in counted
        if source_kept:
            written.append(r)
    return written


async def add_rows(conn: Conn, session_id: str, rows: Sequence[AnalyticsRow]) -> None:
    """In the caller's (checkpoint's) transaction."""
    if not rows:
        return
    await conn.execute(
        _ADD_SQL,
        {
            "session": session_id,
            "buckets": [r[0] for r in rows],
            "metrics": [r[1] for r in rows],
            "keys": [r[2] for r in rows],
            "counts": [r[3] for r in rows],
        },
    )


@one_statement
async def read_rows(conn: Conn, session_id: str) -> list[AnalyticsRow]:
    cursor = await conn.execute(
        "SELECT bucket, metric, key, n FROM session_analytics WHERE session_id = %s",
        (session_id,),
    )
    return [(int(b), str(m), str(k), int(n)) for b, m, k, n in await cursor.fetchall()]


# The host as the analytics count it (engine/analytics.py): a canonical URL's authority,
# "host[:port]", the third "/"-separated part of "scheme://host[:port]/path".
_QUEUED_BY_HOST_SQL = (
    "SELECT split_part(url, '/', 3) AS host, count(*) AS n FROM pages "
    "WHERE session_id = %s AND status IN ('queued', 'fetching') "
    "GROUP BY host ORDER BY n DESC, host LIMIT %s"
)


@one_statement
async def queued_by_host(conn: Conn, session_id: str, limit: int) -> dict[str, int]:
    """Pages waiting (queued or being fetched) per host, the `limit` hosts with most. A scan of
    the session's waiting rows: asked for only on demand."""
    cursor = await conn.execute(_QUEUED_BY_HOST_SQL, (session_id, limit))
    return {str(host): int(n) for host, n in await cursor.fetchall()}
