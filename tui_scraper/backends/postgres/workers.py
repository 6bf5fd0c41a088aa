"""Several workers on one session: their registration, renewal, and who closes the session.

Every store that runs a session (the owner who moved it to running, and each worker that joined
it) has a `session_workers` row named by its claimer id, the `lease_owner` of the page rows it
claims, with an advisory lock and a lease like the run lease. A worker whose crawl runs dry
concludes in one transaction under the session row's lock: while another worker is alive it
leaves (they finish the session); when it is the last and the frontier is empty (nothing queued,
nothing held by a live worker) it is the one that completes the session. The row lock serialises
two workers concluding at once, so exactly one of them completes it.
"""

from __future__ import annotations

from typing import Any, Literal

from psycopg import AsyncConnection

from ...domain.errors import InvalidTransition, SessionNotFound
from ...domain.records import SessionRecord
from ...domain.status import Status
from . import sessions
from .frontier import NOW_SQL

Conn = AsyncConnection[Any]
Verdict = Literal["finish", "leave", "more"]

_REGISTER_SQL = (
    "INSERT INTO session_workers (session_id, worker_id, owner, lock_key, lease_until, "
    f"joined_at) VALUES (%s, %s, %s, %s, {NOW_SQL} + %s, {NOW_SQL}) "
    "ON CONFLICT (session_id, worker_id) DO UPDATE SET owner = excluded.owner, "
    "lock_key = excluded.lock_key, lease_until = excluded.lease_until"
)
# Claims nobody alive holds any more (their holder left, died, or is this store) go back to the
# queue; a live worker's claims are never touched.
_REQUEUE_UNHELD_SQL = (
    "UPDATE pages SET status = 'queued', lease_owner = NULL, lease_until = NULL "
    "WHERE session_id = %(session)s AND status = 'fetching' AND NOT ("
    "lease_owner IS NOT NULL AND lease_owner <> %(me)s "
    "AND session_worker_alive(session_id, lease_owner))"
)


async def register(
    conn: Conn, session_id: str, worker_id: str, owner: str, key: int, ttl: float
) -> None:
    await conn.execute(_REGISTER_SQL, (session_id, worker_id, owner, key, ttl))


async def join(
    conn: Conn, session_id: str, worker_id: str, owner: str, key: int, ttl: float, who: str
) -> SessionRecord:
    """Register on a running session that a live worker runs (else InvalidTransition)."""
    row = await (
        await conn.execute(
            "SELECT status, session_owner_alive(id) FROM sessions WHERE id = %s FOR UPDATE",
            (session_id,),
        )
    ).fetchone()
    if row is None:
        raise SessionNotFound(session_id)
    status = Status(row[0])
    if status is not Status.RUNNING or not row[1]:
        # A session nobody runs is started (or resumed) by `crawl`/`resume`, not joined.
        raise InvalidTransition(session_id, status, Status.RUNNING)
    await register(conn, session_id, worker_id, owner, key, ttl)
    await sessions.insert_event(
        conn, session_id, "worker", None, None, f"worker {owner} joined", who
    )
    return await sessions.get(conn, session_id)


async def renew(conn: Conn, session_id: str, worker_id: str, ttl: float) -> bool:
    """Extend a joined worker's row and claims; False once its lease had lapsed (it was
    stopped or cut off past it: its claims may be someone else's now)."""
    cursor = await conn.execute(
        f"UPDATE session_workers SET lease_until = {NOW_SQL} + %s "
        f"WHERE session_id = %s AND worker_id = %s AND lease_until > {NOW_SQL}",
        (ttl, session_id, worker_id),
    )
    if cursor.rowcount != 1:
        return False
    await conn.execute(
        f"UPDATE pages SET lease_until = {NOW_SQL} + %s WHERE session_id = %s "
        "AND status = 'fetching' AND lease_owner = %s",
        (ttl, session_id, worker_id),
    )
    return True


async def touch(conn: Conn, session_id: str, worker_id: str, ttl: float) -> None:
    """The owner's row, renewed with its run lease."""
    await conn.execute(
        f"UPDATE session_workers SET lease_until = {NOW_SQL} + %s "
        "WHERE session_id = %s AND worker_id = %s",
        (ttl, session_id, worker_id),
    )


async def unregister(conn: Conn, session_id: str, worker_id: str) -> None:
    await conn.execute(_REQUEUE_UNHELD_ONLY_MINE_SQL, (session_id, worker_id))
    await conn.execute(
        "DELETE FROM session_workers WHERE session_id = %s AND worker_id = %s",
        (session_id, worker_id),
    )


_REQUEUE_UNHELD_ONLY_MINE_SQL = (
    "UPDATE pages SET status = 'queued', lease_owner = NULL, lease_until = NULL "
    "WHERE session_id = %s AND status = 'fetching' AND lease_owner = %s"
)


async def requeue_unheld(conn: Conn, session_id: str, worker_id: str) -> int:
    cursor = await conn.execute(_REQUEUE_UNHELD_SQL, {"session": session_id, "me": worker_id})
    return cursor.rowcount


async def conclude(conn: Conn, session_id: str, worker_id: str) -> Verdict:
    """This worker's crawl ran dry: leave, finish the session, or crawl on (see the module)."""
    row = await (
        await conn.execute("SELECT status FROM sessions WHERE id = %s FOR UPDATE", (session_id,))
    ).fetchone()
    if row is None:
        raise SessionNotFound(session_id)
    if Status(row[0]) is not Status.RUNNING:
        await unregister(conn, session_id, worker_id)
        return "leave"
    await requeue_unheld(conn, session_id, worker_id)
    await conn.execute(
        "DELETE FROM session_workers WHERE session_id = %s AND worker_id <> %s "
        "AND NOT session_worker_alive(session_id, worker_id)",
        (session_id, worker_id),
    )
    others = await (
        await conn.execute(
            "SELECT count(*) FROM session_workers WHERE session_id = %s AND worker_id <> %s",
            (session_id, worker_id),
        )
    ).fetchone()
    if others is not None and int(others[0]) > 0:
        await unregister(conn, session_id, worker_id)
        return "leave"
    left = await (
        await conn.execute(
            "SELECT 1 FROM pages WHERE session_id = %s AND status IN ('queued', 'fetching') "
            "LIMIT 1",
            (session_id,),
        )
    ).fetchone()
    return "more" if left is not None else "finish"


async def live_owner(conn: Conn, session_id: str) -> str | None:
    """Who runs the session: the run lease's holder while it is alive, else the first live
    joined worker."""
    row = await (
        await conn.execute(
            f"SELECT CASE WHEN lease_until > {NOW_SQL} AND lease_lock_held(lease_key) "
            "THEN lease_owner END, (SELECT owner FROM session_workers w "
            "WHERE w.session_id = s.id AND session_worker_alive(w.session_id, w.worker_id) "
            "ORDER BY joined_at LIMIT 1) FROM sessions s WHERE id = %s AND status = 'running'",
            (session_id,),
        )
    ).fetchone()
    if row is None:
        return None
    owner = row[0] if row[0] is not None else row[1]
    return None if owner is None else str(owner)
