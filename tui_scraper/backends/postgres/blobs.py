"""Stored content in the database: the downloaded_content table, named by the sha256 of the
original bytes (content-addressed: the same page stored twice is one row).

`BlobWriter` is what the fetch workers are handed (pickled: it is only the database URL): each
process opens its own synchronous connection the first time it writes, and a forked child opens
a new one (a connection must never be shared across a fork). Writes commit on that connection
before `write` returns, so the content is stored before any checkpoint that names it commits
(invariant 3); `sync=False` commits without waiting for the WAL flush, which the checkpoint's own
(synchronous) commit then forces, since the log is flushed in order.

The returned path, "blobs/<2 hex>/<sha256>", has the shape the SQLite backend's has, so whatever
shows or checks a stored path treats both alike; here it names a row, not a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
from typing import Any

import zstandard

from ...backoff import backoff_delay
from ...domain.errors import ScraperError

_PATH_RE = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{64})$")
_ZSTD_LEVEL = 1
_ZSTD_MAX_WINDOW = 8 * 1024 * 1024

# The same content written again replaces the stored bytes only when they are not what they
# should be (damaged): sha256(data) is compared in the server, nothing is read back.
_UPSERT_SQL = (
    "INSERT INTO downloaded_content AS d (sha256, codec, size, data, created_at) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (sha256) DO UPDATE SET codec = EXCLUDED.codec, "
    "size = EXCLUDED.size, data = EXCLUDED.data "
    "WHERE sha256(d.data) <> sha256(EXCLUDED.data) OR d.codec <> EXCLUDED.codec"
)


def _wait_s(default: float = 60.0) -> float:
    try:
        value = float(os.environ.get("TUI_SCRAPER_DB_WAIT_S", default))
    except ValueError:
        return default
    return value if value >= 0 else default


class BlobError(ScraperError):
    """A blob path is malformed, missing, or its contents do not match its name."""


def path_for(sha: str) -> str:
    return f"blobs/{sha[:2]}/{sha}"


def sha_of_path(path: str) -> str:
    match = _PATH_RE.match(path)
    if match is None or match.group(1) != match.group(2)[:2]:
        raise BlobError(f"{path!r} is not a blob path")
    return match.group(2)


class _Codecs(threading.local):
    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
        self.decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)


_CODECS = _Codecs()


def decode(codec: str, data: bytes, sha: str) -> bytes | None:
    """The original bytes, or None when the stored ones are not the blob `sha`."""
    if codec == "zstd":
        stream = _CODECS.decompressor.decompressobj()
        try:
            data = stream.decompress(data)
        except zstandard.ZstdError:
            return None
        if not stream.eof or stream.unused_data:
            return None
    return data if hashlib.sha256(data).hexdigest() == sha else None


class BlobWriter:
    """ports.BlobWriter on the database; picklable; one connection per process, opened lazily."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._local: _PerProcess | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self._url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._url = state["url"]
        self._local = None

    def _connection(self) -> _PerProcess:
        local = self._local
        if local is None or local.pid != os.getpid():
            local = self._local = _PerProcess(self._url)
        return local

    def write(self, data: bytes, *, compress: bool = True, sync: bool = True) -> tuple[str, str]:
        sha = hashlib.sha256(data).hexdigest()
        codec, payload = "raw", data
        if compress:
            packed = _CODECS.compressor.compress(data)
            if len(packed) < len(data):
                codec, payload = "zstd", packed
        self._connection().run(
            _UPSERT_SQL, (sha, codec, len(data), payload, time.time()), sync=sync
        )
        return sha, path_for(sha)

    def read(self, relative_path: str) -> bytes:
        sha = sha_of_path(relative_path)
        row = self._connection().fetch(
            "SELECT codec, data FROM downloaded_content WHERE sha256 = %s", (sha,)
        )
        if row is None:
            raise BlobError(f"blob {relative_path} is missing")
        data = decode(row[0], bytes(row[1]), sha)
        if data is None:
            raise BlobError(f"blob {relative_path} is corrupt or does not match its hash")
        return data

    def verify(self, relative_path: str, sha256: str) -> bool:
        try:
            if sha_of_path(relative_path) != sha256:
                return False
            self.read(relative_path)
        except BlobError:
            return False
        return True

    def gc_tmp(self) -> int:
        """Nothing to collect: a write is one statement, and a dying writer's rolls back."""
        return 0

    def close(self) -> None:
        local, self._local = self._local, None
        if local is not None and local.pid == os.getpid():
            local.close()


class _PerProcess:
    """This process's connection for blobs, reopened once if the server dropped it."""

    def __init__(self, url: str) -> None:
        self.pid = os.getpid()
        self._url = url
        self._lock = threading.Lock()  # fetch workers write from their loop and from threads
        self._conn: Any = None
        self._sync: bool | None = None  # the session's synchronous_commit, once we set it

    def _open(self) -> Any:
        from .connect import connect_sync

        if self._conn is None or self._conn.closed:
            self._conn = connect_sync(self._url)
            self._sync = None  # a new session: the server's default until we set it
        return self._conn

    def run(self, sql: str, params: tuple[Any, ...], *, sync: bool) -> None:
        self._call(lambda conn: self._execute(conn, sql, params, sync))

    def _execute(self, conn: Any, sql: str, params: tuple[Any, ...], sync: bool) -> None:
        """One autocommit INSERT: one round trip. The commit mode is a session setting,
        changed only when a write asks for the other one (a crawl asks for the same always)."""
        if self._sync is not sync:
            conn.execute(f"SET synchronous_commit = {'on' if sync else 'off'}")
            self._sync = sync
        conn.execute(sql, params)

    def fetch(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self._call(lambda conn: conn.execute(sql, params).fetchone())

    def _call(self, fn: Any) -> Any:
        import psycopg

        from .connect import ServerUnreachable, translate

        # A write is an upsert of the same bytes: trying it again after a lost connection (the
        # server restarting) is safe, so it is retried with backoff for as long as the store
        # waits for the server, then the error stops the crawl resumably.
        deadline = time.monotonic() + _wait_s()
        attempt = 0
        with self._lock:
            while True:
                try:
                    return fn(self._open())
                except psycopg.OperationalError as exc:
                    self.close()
                    if time.monotonic() >= deadline:
                        raise translate(self._url, exc) from None
                except ServerUnreachable:  # from connect_sync
                    self.close()
                    if time.monotonic() >= deadline:
                        raise
                except psycopg.Error as exc:
                    raise translate(self._url, exc) from None
                # Full jitter: every fetch worker of every crawl lost the server at once.
                time.sleep(backoff_delay(attempt, base=0.05, cap=1.0))
                attempt += 1

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
