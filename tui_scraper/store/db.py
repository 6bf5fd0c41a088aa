"""One SQLite connection, one thread, whole transactions as single calls.

Why not aiosqlite: every `await db.execute()` is a thread hop, and a task cancelled between `BEGIN`
and `COMMIT` leaves the transaction open on the shared connection (T09 in
tests/store/test_cancel.py). Here each store operation is ONE synchronous function run on the
connection's thread: `BEGIN IMMEDIATE … COMMIT` (or ROLLBACK) happen inside that function, so a
cancelled caller either never started it (the queued call is dropped) or it runs to its end. No
await ever sits inside a transaction, and a half-committed batch cannot exist.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

# StorageUnavailable lives with the other domain errors; re-exported here for the store.
from ..session.errors import DatabaseError
from ..session.errors import StorageUnavailable as StorageUnavailable
from .fileguard import check_database_file, refuse
from .migrations import migrate

P = ParamSpec("P")
T = TypeVar("T")

DB_FILENAME = "scraper.db"
_FILE_MODE = 0o600
_BUSY_TIMEOUT_MS = 5000  # opening (and migrating) the file
# Once open, SQLite's own wait is short: our loop (Database.run) waits in steps of this, so the
# wait is visible ("waiting for the database") and bounded by BUSY_WAIT_S, not SQLite's timeout.
_BUSY_STEP_MS = 1000
_BUSY_PAUSE_S = 0.05  # between two tries when SQLite answered BUSY without waiting


# How long a write waits for a lock held by another process (a sibling crawl stopped with Ctrl-Z,
# a sqlite3 shell in BEGIN IMMEDIATE) before the caller gets DatabaseBusy.
def _busy_wait_s(default: float = 60.0) -> float:
    try:
        value = float(os.environ.get("TUI_SCRAPER_DB_WAIT_S", default))
    except ValueError:
        return default  # a malformed override must not stop the program from starting
    return value if value >= 0 else default


BUSY_WAIT_S = _busy_wait_s()
_JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
# Negative: KiB. 8 MiB keeps peak RSS flat from 10 k to 1 M queued URLs (64 MiB doubled it at
# 1 M); the frontier claim and the checkpoint touch only a few index pages each.
_CACHE_KIB = -8 * 1024
_wal_warning_shown = False
# Primary result codes that mean "the disk said no", not "this file is not a database":
# SQLITE_READONLY (8, e.g. the file became read-only), SQLITE_IOERR (10: EIO, EFBIG, ...),
# SQLITE_FULL (13: ENOSPC), SQLITE_CANTOPEN (14).
_STORAGE_CODES = frozenset({8, 10, 13, 14})
# SQLITE_BUSY (5) and SQLITE_LOCKED (6): another connection holds the lock.
_BUSY_CODES = frozenset({5, 6})
WaitListener = Callable[[str], None]


class DatabaseBusy(StorageUnavailable):
    """Another process held the database's write lock for longer than BUSY_WAIT_S.

    Not the crawl's fault and not final: like a full disk it stops a crawl resumably.
    """


class Database:
    """A connection living on its own single worker thread."""

    def __init__(self, path: Path, conn: sqlite3.Connection, executor: Any, *, readonly: bool):
        self.path = path
        self.readonly = readonly
        self._conn = conn
        self._executor: concurrent.futures.ThreadPoolExecutor = executor
        self._closed = False
        self.busy_wait_s = BUSY_WAIT_S
        self._listeners: list[WaitListener] = []
        self._waiters = 0  # calls now waiting for another process's lock

    def add_wait_listener(self, listener: WaitListener) -> None:
        """`listener(text)` is called (on the loop) when calls start waiting for the lock
        ("waiting for the database ...") and when they stop ("")."""
        self._listeners.append(listener)

    def remove_wait_listener(self, listener: WaitListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _tell(self, text: str) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # an observer must not break the store
                listener(text)

    # opening -------------------------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path, *, readonly: bool) -> Database:
        """Check the file's header first (never touching it), then connect on the db thread."""
        check_database_file(path)
        executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tui-scraper-db")
        loop = asyncio.get_running_loop()
        opener = _open_readonly if readonly else _open_writable
        try:
            # shield: a cancelled open must still hand back (and so close) its connection.
            conn = await asyncio.shield(loop.run_in_executor(executor, opener, path))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, conn, executor, readonly=readonly)

    # running -------------------------------------------------------------------------------
    async def run(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run `fn(conn, …)` on the db thread (reads: autocommit, each statement consistent).

        A lock held by another process is waited on, for at most `busy_wait_s`: the call failed
        whole (a transaction rolls back on any error), so trying it again is the same as trying
        it the first time. Past the bound, DatabaseBusy: the crawl stops resumably.
        """
        if self._closed:
            raise DatabaseError(f"{self.path} is closed")
        loop = asyncio.get_running_loop()
        call = functools.partial(_translate, self.path, fn, self._conn, *args, **kw)
        started: float | None = None
        try:
            while True:
                try:
                    return await loop.run_in_executor(self._executor, call)
                except DatabaseBusy:
                    now = time.monotonic()
                    if started is None:
                        started = now
                        self._waiters += 1
                        if self._waiters == 1:
                            self._tell("waiting for the database (another process holds its lock)")
                    if now - started >= self.busy_wait_s:
                        raise DatabaseBusy(
                            f"{self.path}: database is locked by another process (waited "
                            f"{now - started:.0f} s); the session can be resumed once it is free"
                        ) from None
                    await asyncio.sleep(_BUSY_PAUSE_S)
        finally:
            if started is not None:
                self._waiters -= 1
                if self._waiters == 0:
                    self._tell("")

    async def read(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run `fn` inside one short read transaction (a consistent snapshot across statements)."""
        return await self.run(_in_txn, "BEGIN", fn, *args, **kw)

    async def write(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run `fn` inside BEGIN IMMEDIATE … COMMIT; any exception rolls back everything."""
        if self.readonly:
            raise DatabaseError(f"{self.path} is open read-only")
        try:
            return await self.run(_in_txn, "BEGIN IMMEDIATE", fn, *args, **kw)
        except DatabaseBusy:
            raise  # waited for already; truncating the WAL would need the same lock
        except StorageUnavailable:
            # The WAL may be all that is in the way (it grows until a checkpoint; a file-size
            # limit or a nearly full disk stops it first). Fold it into the database and start
            # it from zero, then try once more: the failed transaction rolled back whole, so
            # running it again is the same as running it the first time.
            with contextlib.suppress(DatabaseError):
                await self.run(_truncate_wal)
            return await self.run(_in_txn, "BEGIN IMMEDIATE", fn, *args, **kw)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        closer = functools.partial(_close, self._conn, checkpoint=not self.readonly)
        try:
            await asyncio.shield(loop.run_in_executor(self._executor, closer))
        finally:
            # The worker is idle now (FIFO: the close ran last); it exits on its own.
            self._executor.shutdown(wait=False)


def _truncate_wal(conn: sqlite3.Connection) -> None:
    busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise DatabaseError("checkpoint blocked by a reader")


def _in_txn(
    conn: sqlite3.Connection,
    begin: str,
    fn: Callable[Concatenate[sqlite3.Connection, P], T],
    /,
    *args: P.args,
    **kw: P.kwargs,
) -> T:
    conn.execute(begin)
    try:
        result = fn(conn, *args, **kw)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _translate(
    path: Path,
    fn: Callable[Concatenate[sqlite3.Connection, P], T],
    conn: sqlite3.Connection,
    /,
    *args: P.args,
    **kw: P.kwargs,
) -> T:
    """sqlite3 errors become one-line DatabaseErrors naming the file."""
    try:
        return fn(conn, *args, **kw)
    except sqlite3.IntegrityError:
        raise
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _BUSY_CODES:
            raise DatabaseBusy(f"{path}: {exc}") from exc
        if isinstance(code, int) and code & 0xFF in _STORAGE_CODES:
            raise StorageUnavailable(
                f"{path}: {exc} (is the disk full? the session can be resumed once it is fixed)"
            ) from exc
        raise DatabaseError(f"{path}: {exc}") from exc


# on the db thread ------------------------------------------------------------------------
def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
    # isolation_level=None: no implicit BEGIN; we issue BEGIN IMMEDIATE ourselves.
    return sqlite3.connect(
        target,
        uri=uri,
        timeout=_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,  # only the db thread uses it; close may come from a finaliser
    )


def _open_writable(path: Path) -> sqlite3.Connection:
    _precreate(path)
    existed = {suffix: Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm", "-journal")}
    conn = _connect(str(path), uri=False)
    try:
        _set_pragmas(conn, path)
        migrate(conn)
    except BaseException as exc:
        conn.close()
        _remove_new_sidecars(path, existed)
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _BUSY_CODES:
            # A lock held by another process is not a sign of a foreign file.
            raise DatabaseBusy(f"{path}: {exc}; try again once it is free") from exc
        if isinstance(exc, sqlite3.DatabaseError):
            raise refuse(path, str(exc)) from exc
        raise
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_STEP_MS}")
    return conn


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.exists() or path.stat().st_size == 0:
        # No database yet: an empty in-memory store with the schema answers every query.
        conn = _connect(":memory:", uri=False)
        migrate(conn)
        return conn
    conn = _connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA cache_size = {_CACHE_KIB}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise refuse(path, str(exc)) from exc
    return conn


def _precreate(path: Path) -> None:
    """Create the db file 0600 ourselves: SQLite gives -wal/-shm the main file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def _set_pragmas(conn: sqlite3.Connection, path: Path) -> None:
    global _wal_warning_shown
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        # Network file systems and some media cannot do WAL (shared memory): use the rollback
        # journal, which is slower for concurrent readers but just as safe.
        conn.execute("PRAGMA journal_mode = DELETE")
        if not _wal_warning_shown:
            _wal_warning_shown = True
            print(
                f"warning: {path} cannot use WAL journaling here; using a rollback journal",
                file=sys.stderr,
            )
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT}")
    # The default 2 MiB page cache turns index maintenance on a million-row frontier into I/O.
    conn.execute(f"PRAGMA cache_size = {_CACHE_KIB}")


def _remove_new_sidecars(path: Path, existed: dict[str, bool]) -> None:
    for suffix, was_there in existed.items():
        if not was_there:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")


def _close(conn: sqlite3.Connection, *, checkpoint: bool) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if checkpoint:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
