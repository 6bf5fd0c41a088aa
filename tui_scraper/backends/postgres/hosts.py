"""Politeness shared by every worker of a session: per-host concurrency and spacing in the database.

A start on a host is one statement (`reserve`): it locks the session's `hosts` row for that host
(INSERT … ON CONFLICT DO UPDATE, which always works on the latest version of the row, so two
workers reserving at once are serialised by it), admits the start only while fewer than
`per_host` are in flight, and hands out start = max(now, next_allowed_at), moving
next_allowed_at on by the gap. Now is the database's clock, so workers on machines with skewed
clocks still agree; the gap is 1/rate read from the session's stored config in the same
statement (a live tuning reaches every worker with its next reservation), or the robots.txt
Crawl-delay the worker passes when that is longer.

Each start in flight is a `host_slots` row named by a slot id the store chose and by the worker
(claimer id) holding it, added and removed by the same statements that move `hosts.in_flight`,
so the counter is their count. The slot id makes a reservation or a release that is tried again
after a lost connection count once. A worker that died leaves its rows behind: `sweep_dead`
drops those whose worker is no longer alive (`session_worker_alive`: its lock gone, as after a
SIGKILL, or its lease lapsed, as after a SIGSTOP) and gives their count back; the store runs it
when a reservation is refused, since only then can a dead worker's slots be in the way.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from .frontier import NOW_SQL
from .rows import one_statement

Conn = AsyncConnection[Any]

# A refused worker's claim on the next slot freed lasts this long (its polls renew it).
WANT_S = 0.5
_FREE_MARK = (
    "(h.wanted_by IS NULL OR h.wanted_by = %(worker)s OR h.wanted_until <= (SELECT now FROM clock))"
)
_ADMIT = f"(h.in_flight < %(per_host)s AND {_FREE_MARK})"
_RESERVE_SQL = f"""
WITH clock AS MATERIALIZED (
    SELECT {NOW_SQL} AS now,
           greatest(coalesce(1.0 / nullif((s.config->>'rate_per_host')::double precision, 0), 0),
                    %(delay)s::double precision) AS gap
    FROM sessions s WHERE s.id = %(session)s
), again AS (
    SELECT start_at FROM host_slots WHERE slot_id = %(slot)s
), hit AS (
    INSERT INTO hosts AS h (session_id, host, next_allowed_at, in_flight, last_slot)
    SELECT %(session)s, %(host)s, c.now + c.gap, 1, %(slot)s FROM clock c
    WHERE NOT EXISTS (SELECT 1 FROM again)
    ON CONFLICT (session_id, host) DO UPDATE SET
        in_flight = h.in_flight + CASE WHEN {_ADMIT} THEN 1 ELSE 0 END,
        -- max(next allowed, now) + gap; excluded.next_allowed_at is now + gap
        next_allowed_at = CASE WHEN {_ADMIT}
            THEN greatest(h.next_allowed_at + (SELECT gap FROM clock), excluded.next_allowed_at)
            ELSE h.next_allowed_at END,
        last_slot = CASE WHEN {_ADMIT} THEN excluded.last_slot ELSE h.last_slot END,
        wanted_by = CASE
            WHEN {_ADMIT} THEN CASE WHEN h.wanted_by = %(worker)s THEN NULL ELSE h.wanted_by END
            WHEN {_FREE_MARK} THEN %(worker)s
            ELSE h.wanted_by END,
        wanted_until = CASE
            WHEN {_ADMIT} THEN CASE WHEN h.wanted_by = %(worker)s THEN 0 ELSE h.wanted_until END
            WHEN {_FREE_MARK} THEN (SELECT now FROM clock) + {WANT_S}
            ELSE h.wanted_until END
    RETURNING h.last_slot = %(slot)s AS admitted, h.next_allowed_at, h.wanted_by, h.wanted_until
), added AS (
    INSERT INTO host_slots (slot_id, session_id, host, worker_id, start_at)
    SELECT %(slot)s, %(session)s, %(host)s, %(worker)s, t.next_allowed_at - c.gap
    FROM hit t, clock c WHERE t.admitted
)
SELECT t.admitted, t.next_allowed_at - c.gap - c.now,
       c.gap = 0 AND (t.wanted_by IS NULL OR t.wanted_by = %(worker)s OR t.wanted_until <= c.now)
FROM hit t, clock c
UNION ALL
SELECT true, a.start_at - c.now, false FROM again a, clock c
"""

_RELEASE_SQL = """
WITH gone AS (DELETE FROM host_slots WHERE slot_id = %s RETURNING session_id, host)
UPDATE hosts h SET in_flight = h.in_flight - 1
FROM gone g WHERE h.session_id = g.session_id AND h.host = g.host
"""

_SWEEP_DEAD_SQL = """
WITH gone AS (
    DELETE FROM host_slots s
    WHERE s.session_id = %(session)s AND s.host = %(host)s
      AND NOT session_worker_alive(s.session_id, s.worker_id)
    RETURNING 1
)
UPDATE hosts SET in_flight = in_flight - (SELECT count(*) FROM gone)
WHERE session_id = %(session)s AND host = %(host)s AND EXISTS (SELECT 1 FROM gone)
"""

_RELEASE_WORKER_SQL = """
WITH gone AS (
    DELETE FROM host_slots WHERE session_id = %(session)s AND worker_id = %(worker)s
    RETURNING host
)
UPDATE hosts h SET in_flight = h.in_flight - g.n
FROM (SELECT host, count(*) AS n FROM gone GROUP BY host) g
WHERE h.session_id = %(session)s AND h.host = g.host
"""


@one_statement
async def reserve(
    conn: Conn,
    session_id: str,
    host: str,
    worker_id: str,
    slot_id: str,
    per_host: int,
    crawl_delay: float,
) -> tuple[float, bool] | None:
    """(Seconds to wait before the reserved start, ≤ 0: now; whether the holder may keep it
    for its next request), or None when the host is full or its next slot is another's."""
    cursor = await conn.execute(
        _RESERVE_SQL,
        {
            "session": session_id,
            "host": host,
            "worker": worker_id,
            "slot": slot_id,
            "per_host": per_host,
            "delay": max(0.0, crawl_delay),
        },
    )
    row = await cursor.fetchone()
    if row is None or not row[0]:
        return None
    return float(row[1]), bool(row[2])


@one_statement
async def release(conn: Conn, slot_id: str) -> None:
    await conn.execute(_RELEASE_SQL, (slot_id,))


@one_statement
async def sweep_dead(conn: Conn, session_id: str, host: str) -> None:
    """The slots on `host` of workers that are no longer alive are dropped and uncounted."""
    await conn.execute(_SWEEP_DEAD_SQL, {"session": session_id, "host": host})


@one_statement
async def release_worker(conn: Conn, session_id: str, worker_id: str) -> None:
    """Every slot the worker still holds on the session (it leaves, or a release was lost)."""
    await conn.execute(_RELEASE_WORKER_SQL, {"session": session_id, "worker": worker_id})
