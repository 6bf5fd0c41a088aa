"""The backends the contract suite runs against, and what each needs to set up a test.

A backend joins the suite with one entry in BACKENDS: a factory that, given a fresh temp dir,
returns a harness for one empty store. The tests themselves use only the store's public API;
the harness holds the few things a test cannot do through that API (open a second handle on
the same storage, end a handle the way a killed process does, damage stored bytes, prove that
nothing was written).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tui_scraper.backends.postgres import Store as PostgresStore
from tui_scraper.backends.sqlite import Store as SqliteStore

# The API every backend offers (tui_scraper.ports names the ones the engine and the runtime
# rely on; the rest is the same public methods on both stores).
ContractStore = SqliteStore | PostgresStore


class Harness(Protocol):
    name: str

    async def open(self, *, readonly: bool = False) -> ContractStore:
        """Another handle on this test's storage (as a second process would open it)."""
        ...

    async def abandon(self, store: ContractStore) -> None:
        """End `store` as a SIGKILL would: no transition, no cleanup, its lease left to die."""
        ...

    def snapshot(self) -> object:
        """Everything stored, comparable with ==: equal snapshots mean nothing was written."""
        ...

    def damage_blob(self, relative_path: str, data: bytes) -> None:
        """Replace a stored blob's bytes with `data` (a dying disk, a stray editor)."""
        ...

    def remove_blob(self, relative_path: str) -> None: ...

    def close(self) -> None:
        """The test is over (nothing of its storage is needed any more)."""
        ...


class SqliteHarness:
    name = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.data_dir = tmp / "data"

    async def open(self, *, readonly: bool = False) -> ContractStore:
        return await SqliteStore.open(self.data_dir, readonly=readonly)

    async def abandon(self, store: ContractStore) -> None:
        assert isinstance(store, SqliteStore)
        # The kernel drops the flocks of a dead process; its connections just stop.
        for held in store._leases.values():
            os.close(held.fd)
            held.fd = -1
        store._leases.clear()
        db = store._db
        db._closed = True
        await db._reader.close()
        if db._writer is not None:
            await db._writer.close()

    def snapshot(self) -> object:
        files: dict[str, tuple[str, int, int]] = {}
        for path in sorted(self.data_dir.rglob("*")) if self.data_dir.exists() else []:
            if path.is_file():
                st = path.stat()
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                files[str(path.relative_to(self.data_dir))] = (digest, st.st_mtime_ns, st.st_mode)
        return files

    def damage_blob(self, relative_path: str, data: bytes) -> None:
        (self.data_dir / relative_path).write_bytes(data)

    def remove_blob(self, relative_path: str) -> None:
        (self.data_dir / relative_path).unlink()

    def close(self) -> None:
        pass  # the temp dir goes with the test


class PostgresHarness:
    """A database of its own on the test session's server (tests/pg_server.py), with the
    latest schema."""

    name = "postgres"

    def __init__(self, tmp: Path) -> None:
        from tests.pg_server import shared

        self.url = shared().new_database()

    def close(self) -> None:
        """The test is over: its database goes back to be emptied and used again."""
        from tests.pg_server import shared

        shared().give_back(self.url)

    async def open(self, *, readonly: bool = False) -> ContractStore:
        return await PostgresStore.open(self.url, readonly=readonly)

    async def abandon(self, store: ContractStore) -> None:
        assert isinstance(store, PostgresStore)
        # A dead process's connections are closed by the kernel; the server then drops their
        # session locks (the lease locks). Nothing is transitioned, nothing released first.
        store._closed = True
        if store._renewer is not None:
            store._renewer.cancel()
        keeper = store._keeper._conn
        lock_holder = None if keeper is None or keeper.closed else keeper.info.backend_pid
        await store._keeper.abandon()
        store.blobs.close()
        await store._pool.close()
        if lock_holder is not None:
            # The server ends a backend a moment after its client's socket closed, as after a
            # SIGKILL: wait for that (its locks go with it) before the test looks.
            self._wait_backend_gone(lock_holder)

    def _wait_backend_gone(self, pid: int) -> None:
        deadline = time.monotonic() + 30
        while self._sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)):
            if time.monotonic() > deadline:
                raise AssertionError(f"backend {pid} still there 30 s after its client closed")
            time.sleep(0.01)

    def _sql(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def snapshot(self) -> object:
        """Every row of every table with its xmin (a write of the same values changes it)."""
        import psycopg

        found: dict[str, list[tuple[object, ...]]] = {}
        with psycopg.connect(self.url, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
            for (table,) in tables:
                rows = conn.execute(
                    f'SELECT xmin::text, t::text FROM "{table}" t ORDER BY 2'
                ).fetchall()
                found[str(table)] = rows
        return found

    def damage_blob(self, relative_path: str, data: bytes) -> None:
        self._sql(
            "UPDATE downloaded_content SET data = %s WHERE sha256 = %s",
            (data, relative_path[-64:]),
        )

    def remove_blob(self, relative_path: str) -> None:
        self._sql("DELETE FROM downloaded_content WHERE sha256 = %s", (relative_path[-64:],))


BACKENDS: dict[str, Callable[[Path], Harness]] = {
    "postgres": PostgresHarness,
    "sqlite": SqliteHarness,
}
