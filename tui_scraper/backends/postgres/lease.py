"""The run lease on PostgreSQL: a row lease (owner, token, until) plus an advisory lock.

No flock reaches across machines, so a running session's row names its owner, a token for this
run and until when the lease holds without renewal. The owner's store also holds a session-level
advisory lock (key in the row) on a connection of its own: the server drops it the moment that
connection dies (a SIGKILLed owner is provably gone at once, as with SQLite's flock), while a
stopped or cut-off owner that stops renewing loses the lease when `lease_until` passes. The SQL
function session_owner_alive() is the one definition of "alive" (both must hold).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

import psycopg

from ...domain.errors import StorageUnavailable
from .connect import connect, translate


def new_key() -> int:
    """A lock key nobody else holds: random, positive (pg_locks shows it as two unsigned halves)."""
    return secrets.randbits(62) + 1


def parse_owner(text: str | None) -> dict[str, object] | None:
    """LeaseOwner.text() is host:pid:start:run_id."""
    if not text:
        return None
    parts = text.split(":", 3)
    if len(parts) != 4:
        return {"pid": None, "host": None, "start": None, "started": None, "run_id": text}
    host, pid, start, run_id = parts
    started: float | None
    try:
        started = float(start)
    except ValueError:
        started = None
    return {
        "pid": int(pid) if pid.isdigit() else None,
        "host": host,
        "start": started,
        "started": started,
        "run_id": run_id,
    }


class LockKeeper:
    """One connection that holds this store's lease locks; reopened (and its locks taken again)
    after the server dropped it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._keys: set[int] = set()
        self._mutex = asyncio.Lock()

    @property
    def broken(self) -> bool:
        return self._conn is None or self._conn.closed or self._conn.broken

    async def take(self, key: int) -> None:
        async with self._mutex:
            conn = await self._open()
            await self._lock(conn, key)
            self._keys.add(key)

    async def drop(self, key: int) -> None:
        async with self._mutex:
            self._keys.discard(key)
            if self._conn is None or self.broken:
                return
            with contextlib.suppress(psycopg.Error):
                await self._conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    async def ensure(self, keys: set[int]) -> None:
        """Make sure `keys` are held: a connection the server dropped (a restart) lost them,
        and nobody notices that until it is used."""
        async with self._mutex:
            if not self.broken and self._conn is not None:
                try:
                    await self._conn.execute("SELECT 1")
                    return
                except psycopg.Error:
                    pass
            if keys:
                await self._reopen(keys)

    async def reopen(self, keys: set[int]) -> None:
        """After a lost connection: hold `keys` again on a new one (the leases still ours)."""
        async with self._mutex:
            await self._reopen(keys)

    async def _reopen(self, keys: set[int]) -> None:
        await self._close()
        conn = await self._open()
        self._keys = set()
        for key in keys:
            await self._lock(conn, key)
            self._keys.add(key)

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self.broken:
            self._conn = await connect(self._url, readonly=False)
        return self._conn

    async def _lock(self, conn: psycopg.AsyncConnection[Any], key: int) -> None:
        try:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            raise translate(self._url, exc) from None
        if row is None or not row[0]:
            raise StorageUnavailable("could not take the lease lock (key in use)")

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        async with self._mutex:
            self._keys.clear()
            await self._close()

    async def abandon(self) -> None:
        """Drop the connection without unlocking (what a SIGKILL does)."""
        await self._close()
