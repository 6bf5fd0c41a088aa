"""The SQLite database on aiosqlite: one writer connection, one reader connection.

Why aiosqlite: the project's design names it, and it gives each connection its own worker thread
with a FIFO queue, so the event loop never blocks on SQLite. Its hazard is cancellation: a
cancelled `await conn.execute()` does not stop the statement in the thread, and a task cancelled
between `BEGIN` and `COMMIT` would leave the transaction open on the shared connection (T09 in
tests/sqlite/test_cancel.py). The rule that makes it safe:

- A write is one `async with db.transaction() as tx:` block. An `asyncio.Lock` serialises the
  blocks; BEGIN IMMEDIATE runs at entry; COMMIT on success, ROLLBACK on any error (a cancel
  included). The end runs as its own task under `asyncio.shield`, and that task releases the
  lock only once the COMMIT/ROLLBACK finished, so a cancel that lands anywhere in the block never
  leaves a transaction open and the next block never starts inside someone else's. The
  cancelled caller waits for that end too before it sees its CancelledError, so what it reads
  next is the state after its COMMIT or ROLLBACK, never before.
- The end is queued on the connection's thread behind every statement the block already sent
  (FIFO), so a ROLLBACK after a cancelled statement runs after that statement, never beside it.
- A store operation written against sqlite3 (`tx.run(fn, …)`) runs whole on the thread: one
  hop per operation, not one per row, so the checkpoint's batch does not pay a hop per page.
- Reads run on their own connection, each as one call in one short read transaction: a long
  export never waits behind the writer, and it never pins the WAL (tests/hardening/test_wal.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import aiosqlite

# StorageUnavailable lives with the other domain errors; re-exported here for the store.
from ...domain.errors import DatabaseError
from ...domain.errors import StorageUnavailable as StorageUnavailable
from ...paths import FILE_MODE
from .fileguard import check_database_file, refuse
from .migrations import migrate

P = ParamSpec("P")
T = TypeVar("T")

DB_FILENAME = "scraper.db"

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
_THREAD_STOP_WAIT_S = 5.0  # a failed connect's aiosqlite thread, ending
# SQLITE_IOERR, SQLITE_FULL: the disk failed the open (or the schema's creation), not the file.
_DISK_CODES = frozenset({10, 13})

# The database files this process has open (by device and inode), with how many Databases hold
# each. Reading such a file's header again through a descriptor of our own would, on close, drop
# every POSIX lock this process's SQLite connections hold on it (closing any descriptor of a
# file releases the process's locks on it): another process's connection could then believe it
# is the last one and fold and reset the WAL under ours. A file open here was checked when it
# was first opened, so a second Database on it skips the check.
_OPEN_HERE: dict[tuple[int, int], int] = {}


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


WaitListener = Callable[[str], None]


class DatabaseBusy(StorageUnavailable):
    """Another process held the database's write lock for longer than BUSY_WAIT_S.

    Not the crawl's fault and not final: like a full disk it stops a crawl resumably.
    """


SqlFn = Callable[Concatenate[sqlite3.Connection, P], T]


class _Connection:
    """One aiosqlite connection and the sqlite3 connection on its thread.

    aiosqlite's `_execute` queues a callable on the connection's thread (its own methods are
    built on it); running a whole store operation there is what keeps it to one hop.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.aio = conn
        self.raw: sqlite3.Connection = conn._conn  # the connector's result, fixed for its life

    @classmethod
    async def open(cls, opener: Callable[[], sqlite3.Connection]) -> _Connection:
        conn = aiosqlite.Connection(opener, iter_chunk_size=64)
        # A daemon: a store an error path left open must not keep the process from exiting
        # (aiosqlite's thread is not one). What an exit cuts short is what kill -9 cuts short,
        # which WAL and synchronous=FULL make safe.
        conn._thread.daemon = True
        # shield: a cancelled open must still finish (and so hand back, and close) its connection.
        task = asyncio.ensure_future(_connected(conn))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await task
                await conn.close()
            raise
        except BaseException:
            # A failed connect makes aiosqlite stop its thread, which hands its last answer to
            # this loop: wait for that here, or a process that exits right after the error (one
            # line, exit 1) closes the loop under the thread, which then dies with a traceback.
            with contextlib.suppress(BaseException):
                await asyncio.to_thread(conn._thread.join, _THREAD_STOP_WAIT_S)
            raise
        return cls(conn)

    async def call(self, path: Path, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        call = functools.partial(_translate, path, fn, self.raw, *args, **kw)
        execute = cast(Callable[[Callable[[], T]], Awaitable[T]], self.aio._execute)
        return await execute(call)

    async def close(self) -> None:
        await self.aio.close()


class Transaction:
    """The open write transaction of one `async with db.transaction()` block."""

    def __init__(self, db: Database, conn: _Connection) -> None:
        self._db = db
        self._conn = conn

    async def run(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        """`fn(conn, …)` on the writer's thread, inside this transaction."""
        return await self._conn.call(self._db.path, fn, *args, **kw)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self.run(_fetchall, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.run(_executemany, sql, list(rows))


class Database:
    """A writer connection (transactions, serialised) and a reader connection (queries)."""

    def __init__(
        self, path: Path, writer: _Connection | None, reader: _Connection, *, readonly: bool
    ) -> None:
        self.path = path
        self.readonly = readonly
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()  # one transaction block at a time on the writer
        # Read-only on a file nobody had open: read it without WAL index (see _open_readonly)
        # until a writer attaches; then switch to an ordinary read-only connection.
        self._immutable = False
        self._switching = asyncio.Lock()
        self._closed = False
        self._file_key: tuple[int, int] | None = None  # while counted in _OPEN_HERE
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
        """Check the file's header first (never touching it), then connect on the db threads."""
        key = _file_key(path)
        if key is None or _OPEN_HERE.get(key, 0) == 0:
            check_database_file(path)
        if readonly:
            immutable = not _sidecars(path)
            opener = functools.partial(_open_readonly, path, immutable=immutable)
            db = cls(path, None, await _Connection.open(opener), readonly=True)
            db._immutable = immutable
        else:
            writer = await _Connection.open(functools.partial(_open_writable, path))
            try:
                reader = await _Connection.open(functools.partial(_open_reader, path))
            except BaseException:
                await asyncio.shield(writer.close())
                raise
            db = cls(path, writer, reader, readonly=False)
        db._file_key = _file_key(path)
        if db._file_key is not None:
            _OPEN_HERE[db._file_key] = _OPEN_HERE.get(db._file_key, 0) + 1
        return db

    # transactions --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """BEGIN IMMEDIATE … COMMIT around the block; any exception (a cancel too) rolls back.

        Not retried here: a busy lock or a full disk surfaces as the exception; `write` is the
        retrying form.
        """
        writer = self._require_writer()
        await self._lock.acquire()
        try:
            await writer.call(self.path, _begin_immediate)
            yield Transaction(self, writer)
        except BaseException:
            await _shielded(self._end(writer, commit=False))
            raise
        else:
            await _shielded(self._end(writer, commit=True))

    async def _end(self, writer: _Connection, *, commit: bool) -> None:
        """COMMIT or ROLLBACK, then free the lock: runs as its own task, never cancelled."""
        try:
            if commit:
                await writer.call(self.path, _commit)
            else:
                with contextlib.suppress(Exception):  # the block's own error is the one to tell
                    await writer.call(self.path, _rollback)
        finally:
            self._lock.release()

    # running -------------------------------------------------------------------------------
    async def run(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        """Run `fn(conn, …)` in autocommit on the writer (the reader when read-only), between
        transaction blocks, waiting for another process's lock like `write` does."""
        if self._writer is None:
            return await self._retrying(self._read_plain, fn, *args, **kw)
        return await self._retrying(self._run_locked, self._writer, fn, *args, **kw)

    async def _run_locked(
        self, writer: _Connection, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        await self._lock.acquire()
        # The call runs to its end on the thread even if we are cancelled; the lock is freed
        # by the (shielded) task once it did, as a block's end does, so that nothing started
        # under the lock (a test's trace callback, a PRAGMA) overlaps the next block.
        return await _shielded(self._call_then_release(writer, fn, *args, **kw))

    async def _call_then_release(
        self, writer: _Connection, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        try:
            return await writer.call(self.path, fn, *args, **kw)
        finally:
            self._lock.release()

    async def read(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        """Run `fn` on the reader inside one short read transaction (a consistent snapshot)."""
        return await self._retrying(self._read_once, fn, *args, **kw)

    async def _read_once(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        reader = await self._current_reader()
        return await reader.call(self.path, _in_txn, "BEGIN", fn, *args, **kw)

    async def _read_plain(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        reader = await self._current_reader()
        return await reader.call(self.path, fn, *args, **kw)

    async def _current_reader(self) -> _Connection:
        """The reader; an immutable one is replaced once a writer has attached to the file."""
        if not self._immutable or not _sidecars(self.path):
            return self._reader
        async with self._switching:
            if self._immutable:
                opener = functools.partial(_open_readonly, self.path, immutable=False)
                old, self._reader = self._reader, await _Connection.open(opener)
                self._immutable = False
                await _shielded(old.close())  # queued behind the calls already sent to it
        return self._reader

    async def write(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        """Run `fn` inside one transaction block; any exception rolls back everything."""
        self._require_writer()
        try:
            return await self._retrying(self._write_once, fn, *args, **kw)
        except DatabaseBusy:
            raise  # waited for already; truncating the WAL would need the same lock
        except StorageUnavailable:
            # The WAL may be all that is in the way (it grows until a WAL checkpoint folds it
            # back into the database file; a file-size limit or a nearly full disk stops it
            # first). Fold it into the database and start it from zero, then try once more: the
            # failed transaction rolled back whole, so running it again is the same as running
            # it the first time.
            with contextlib.suppress(DatabaseError):
                await self.run(_fold_wal_and_truncate)
            return await self._retrying(self._write_once, fn, *args, **kw)

    async def _write_once(self, fn: SqlFn[P, T], /, *args: P.args, **kw: P.kwargs) -> T:
        async with self.transaction() as tx:
            return await tx.run(fn, *args, **kw)

    async def _retrying(
        self, attempt: Callable[P, Awaitable[T]], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """`attempt(…)`, tried again while another process holds the lock, for at most
        `busy_wait_s`: an attempt fails whole (a transaction rolls back on any error), so trying
        it again is the same as trying it the first time. Past the bound, DatabaseBusy: the
        crawl stops resumably."""
        if self._closed:
            raise DatabaseError(f"{self.path} is closed")
        started: float | None = None
        try:
            while True:
                try:
                    return await attempt(*args, **kw)
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

    def _require_writer(self) -> _Connection:
        if self._closed:
            raise DatabaseError(f"{self.path} is closed")
        if self._writer is None:
            raise DatabaseError(f"{self.path} is open read-only")
        return self._writer

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await _shielded(self._close())
        finally:
            key, self._file_key = self._file_key, None
            if key is not None:
                left = _OPEN_HERE.get(key, 1) - 1
                if left > 0:
                    _OPEN_HERE[key] = left
                else:
                    _OPEN_HERE.pop(key, None)

    async def _close(self) -> None:
        # The reader first: its snapshot must not hold back the writer's closing WAL fold.
        try:
            await self._reader.close()
        finally:
            if self._writer is not None:
                async with self._lock:  # after the last block ended
                    with contextlib.suppress(DatabaseError):
                        await self._writer.call(self.path, _fold_wal_on_close)
                    await self._writer.close()


async def _connected(conn: aiosqlite.Connection) -> aiosqlite.Connection:
    return await conn  # starts its thread, runs the opener there


async def _shielded(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` as its own task, which a cancel of the caller does not stop.

    The caller still waits for it to end and only then sees its CancelledError: a caller that
    returned while its COMMIT was still running could read the state before it on the reader
    (and a replay would then find its work already done). The wait is bounded: what is shielded
    is one COMMIT, ROLLBACK, close or call already on its thread.
    """
    task = asyncio.ensure_future(awaitable)
    cancel: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError as exc:
            cancel = exc
    if cancel is not None:
        if not task.cancelled():
            task.exception()  # seen: the caller's cancel is what it gets
        raise cancel
    return task.result()


def _begin_immediate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")


def _commit(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        # A COMMIT that failed (disk full, lock) can leave the transaction open: end it.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    # Queued behind whatever the block sent, so this sees (and ends) the real state.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _fetchall(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def _executemany(conn: sqlite3.Connection, sql: str, rows: list[Sequence[Any]]) -> None:
    conn.executemany(sql, rows)


def _fold_wal_on_close(conn: sqlite3.Connection) -> None:
    """A WAL checkpoint at close: fold the WAL into the database file and empty it."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    with contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _fold_wal_and_truncate(conn: sqlite3.Connection) -> None:
    """A WAL checkpoint that must succeed: fold every frame back, then start the WAL from zero."""
    busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise DatabaseError("WAL checkpoint blocked by a reader")


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


# on the connection threads -------------------------------------------------------------------
def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
    # isolation_level=None: no implicit BEGIN; we issue BEGIN IMMEDIATE ourselves.
    return sqlite3.connect(
        target,
        uri=uri,
        timeout=_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,  # opened on the connection's thread; tests close it from another
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
        if isinstance(code, int) and code & 0xFF in _DISK_CODES:
            # A full or failing disk while opening or creating the schema says nothing about
            # the file: it is not refused as foreign, and what it held is intact.
            raise StorageUnavailable(
                f"{path} cannot be opened for writing ({exc}): is the disk full or failing? "
                "Nothing stored was lost"
            ) from exc
        if isinstance(exc, sqlite3.DatabaseError):
            raise refuse(path, str(exc)) from exc
        raise
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_STEP_MS}")
    return conn


def _sidecars(path: Path) -> bool:
    """Whether any connection has (or had, and left) the file's -wal, -shm or -journal."""
    return any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm", "-journal"))


def _open_readonly(path: Path, *, immutable: bool) -> sqlite3.Connection:
    """A connection that writes nothing, not even a -wal or -shm it did not find.

    A WAL-mode file opened read-only still gets a -wal and an -shm created next to it (and left
    there: a read-only connection never removes them). When none exists, no connection is
    attached and the file is complete by itself, so it is read `immutable` (no WAL index, no
    locks). Before each call the Database checks for sidecars again: a writer that attached
    since makes it switch to an ordinary `mode=ro` connection, which uses the writer's files.
    A writer changes the main file only when it folds the WAL into it (a WAL checkpoint: after
    ~1000 pages of WAL, or when it closes), so a read that started just before the writer
    attached still reads whole pages.
    """
    if not path.exists() or path.stat().st_size == 0:
        # No database yet: an empty in-memory store with the schema answers every query.
        conn = _connect(":memory:", uri=False)
        migrate(conn)
        return conn
    mode = "ro&immutable=1" if immutable else "ro"
    conn = _connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA cache_size = {_CACHE_KIB}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise refuse(path, str(exc)) from exc
    return conn


def _open_reader(path: Path) -> sqlite3.Connection:
    """The writable store's query connection: never writes (query_only), sees each commit."""
    conn = _connect(str(path), uri=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_STEP_MS}")
        conn.execute(f"PRAGMA cache_size = {_CACHE_KIB}")
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise refuse(path, str(exc)) from exc
    return conn


def _precreate(path: Path) -> None:
    """Create the db file 0600 ourselves: SQLite gives -wal/-shm the main file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
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
