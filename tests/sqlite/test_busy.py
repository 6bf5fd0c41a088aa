"""A database locked by another process is waited on, visibly, for a bounded time.

The lock is real: a second sqlite3 connection in BEGIN IMMEDIATE, as a sqlite3 shell or a
sibling crawl stopped with Ctrl-Z mid-commit would hold it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import StorageUnavailable, Store
from tui_scraper.backends.sqlite.db import DB_FILENAME, DatabaseBusy

from .test_frontier import new_session


class HeldLock:
    """BEGIN IMMEDIATE on another connection (in a thread: sqlite3 objects are per thread)."""

    def __init__(self, path: Path) -> None:
        self._release = threading.Event()
        self._held = threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(path,), daemon=True)

    def _hold(self, path: Path) -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._held.set()
            self._release.wait(60)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    def __enter__(self) -> HeldLock:
        self._thread.start()
        assert self._held.wait(10)
        return self

    def release(self) -> None:
        self._release.set()
        self._thread.join(10)

    def __exit__(self, *exc: object) -> None:
        self.release()


async def test_write_waits_for_the_lock_and_says_so(store: Store, data_dir: Path) -> None:
    sid = await new_session(store)
    heard: list[str] = []
    waiting = asyncio.Event()

    def listener(text: str) -> None:
        heard.append(text)
        if text:
            waiting.set()

    store.add_wait_listener(listener)
    with HeldLock(data_dir / DB_FILENAME) as lock:
        write = asyncio.ensure_future(store.add_event(sid, "note", "after the lock", who="t"))
        await asyncio.wait_for(waiting.wait(), 10)  # told while it waits, not after
        assert not write.done()
        lock.release()
        await asyncio.wait_for(write, 10)
    assert heard[0].startswith("waiting for the database") and heard[-1] == ""
    assert "after the lock" in [e.reason for e in await store.events(sid)]


async def test_lock_held_past_the_bound_is_database_busy(store: Store, data_dir: Path) -> None:
    sid = await new_session(store)
    store._db.busy_wait_s = 1.5
    with HeldLock(data_dir / DB_FILENAME), pytest.raises(DatabaseBusy, match="locked") as caught:
        await store.add_event(sid, "note", "never", who="t")
    # A StorageUnavailable: the crawl stops resumably and the CLI exits 1, not 2 (bad input).
    assert isinstance(caught.value, StorageUnavailable)
    assert "\n" not in str(caught.value)
