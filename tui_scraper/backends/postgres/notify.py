"""LISTEN/NOTIFY: a wake-up hint for whoever follows a session that another process runs.

A checkpoint and a state change announce themselves on the `tui_scraper` channel with a small
payload, `<session id>:<seq>` (seq: the writing transaction's id, so one commit is told from
another), sent on commit. It is a hint and never a record: nothing is replayed, a follower that
was not listening misses it, and what changed is always read from the tables. So a follower
waits for a hint *or* a slow poll, whichever comes first, and reads again after it listens anew
(a restarted server drops every LISTEN).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final

import psycopg

from ...backoff import backoff_delay
from ...domain.records import SessionRecord
from ...domain.status import Status
from . import sessions
from .connect import connect_kwargs

if TYPE_CHECKING:
    from ...ports import WakeReason

CHANNEL: Final = "tui_scraper"
# Well under the server's 8,000-byte payload limit: a session id, a colon and a number.
_ANNOUNCE_SQL = "SELECT pg_notify('tui_scraper', %s || ':' || pg_current_xact_id()::text)"
# How long a lost LISTEN connection is waited on between tries (the follower polls meanwhile).
_RELISTEN_BASE_S: Final = 0.5
_RELISTEN_CAP_S: Final = 10.0

Conn = psycopg.AsyncConnection[Any]


async def announce(conn: Conn, session_id: str) -> None:
    """Tell listeners, when the caller's transaction commits, that the session changed."""
    await conn.execute(_ANNOUNCE_SQL, (session_id,))


def parse_payload(payload: str) -> tuple[str, int | None]:
    """(session id, seq) of a payload; seq None when the sender sent the bare id."""
    session_id, _, seq = payload.partition(":")
    return session_id, int(seq) if seq.isdigit() else None


async def transition_announced(
    conn: Conn,
    session_id: str,
    wanted: Status,
    *,
    reason: str,
    who: str,
    expected: Status | None = None,
    error: str | None = None,
) -> SessionRecord:
    """`sessions.transition`, announced in the same transaction: a follower elsewhere sees a
    pause or a cancel when it happens, not at its next poll."""
    record = await sessions.transition(
        conn, session_id, wanted, reason=reason, who=who, expected=expected, error=error
    )
    await announce(conn, session_id)
    return record


class ChangeListener:
    """One LISTEN connection for one session's hints (the `ChangeFeed` of the PostgreSQL store).

    `wait(timeout)` answers "notify" for a hint about the session, "poll" when `timeout` passed
    without one (or the server is out of reach: the caller reads anyway, and the store's reads
    wait it out), "lost" the moment its connection broke, and "listening" once after it
    (re)connected, since what happened while nobody listened was missed. It never raises for
    a lost server.
    """

    def __init__(self, url: str, session_id: str) -> None:
        self._url = url
        self._session_id = session_id
        self._conn: Conn | None = None
        self._failures = 0
        self._closed = False

    async def wait(self, timeout: float) -> WakeReason:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        if self._conn is None or self._conn.closed or self._conn.broken:
            if await self._listen():
                return "listening"
            pause = backoff_delay(self._failures - 1, base=_RELISTEN_BASE_S, cap=_RELISTEN_CAP_S)
            await asyncio.sleep(min(max(0.0, timeout), pause))
            return "poll"
        conn = self._conn
        try:
            while (left := deadline - loop.time()) > 0:
                async for note in conn.notifies(timeout=left):
                    if parse_payload(note.payload)[0] == self._session_id:
                        return "notify"
        except psycopg.Error:
            await self._drop()
            return "lost"
        return "poll"

    async def _listen(self) -> bool:
        if self._closed:
            return False
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url, **connect_kwargs(readonly=False)
            )
        except psycopg.Error:
            self._failures += 1
            return False
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            self._failures += 1
            with contextlib.suppress(psycopg.Error):
                await conn.close()
            return False
        self._failures = 0
        self._conn = conn
        return True

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def close(self) -> None:
        self._closed = True
        await self._drop()
