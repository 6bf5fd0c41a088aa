"""`async with db.transaction() as tx:` — the writer's block: all or nothing, cancel included.

aiosqlite does not stop a statement whose await was cancelled; the block's end (COMMIT or
ROLLBACK) runs shielded, behind that statement, and frees the lock only once it finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.backends.sqlite.db import Database
from tui_scraper.domain.errors import DatabaseError

ROWS = 20


async def _rows(db: Database) -> list[int]:
    return [row[0] for row in await db.read(lambda c: c.execute("SELECT x FROM t").fetchall())]


async def _open(data_dir: Path) -> Store:
    store = await Store.open(data_dir)
    async with store._db.transaction() as tx:
        await tx.execute("CREATE TABLE t (x INTEGER)")
    return store


async def _many_statements(db: Database) -> None:
    async with db.transaction() as tx:
        for i in range(ROWS):
            await tx.execute("INSERT INTO t VALUES (?)", (i,))


@pytest.mark.parametrize("steps", [0, 1, 2, 5, 11, 30, 60])
async def test_cancel_at_any_await_rolls_back_whole(data_dir: Path, steps: int) -> None:
    store = await _open(data_dir)
    db = store._db
    try:
        task = asyncio.create_task(_many_statements(db))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not await db.run(lambda c: c.in_transaction)
        assert await _rows(db) in ([], list(range(ROWS)))
        async with db.transaction() as tx:  # the next block runs normally
            await tx.executemany("INSERT INTO t VALUES (?)", [(100,), (101,)])
        assert (await _rows(db))[-2:] == [100, 101]
    finally:
        await store.close()


async def test_lock_is_held_until_the_rollback_finished(data_dir: Path) -> None:
    store = await _open(data_dir)
    db = store._db
    started = asyncio.Event()

    async def slow_block() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
            started.set()
            await tx.run(lambda c: time.sleep(0.3))  # keeps running on the thread when cancelled

    try:
        first = asyncio.create_task(slow_block())
        await started.wait()
        first.cancel()
        # Started while the cancelled statement is still running on the thread: it must wait
        # for the ROLLBACK, then run in a transaction of its own.
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (2)")
        with contextlib.suppress(asyncio.CancelledError):
            await first
        assert await _rows(db) == [2]
    finally:
        await store.close()


async def test_an_error_in_the_block_rolls_back_and_frees_the_lock(data_dir: Path) -> None:
    store = await _open(data_dir)
    db = store._db
    try:
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (1)")
                await tx.execute("INSERT INTO sessions (id) VALUES (NULL)")
        with pytest.raises(KeyError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (2)")
                raise KeyError("ours")
        assert await _rows(db) == []
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (3)")
        assert await _rows(db) == [3]
    finally:
        await store.close()


async def test_readonly_has_no_transaction(data_dir: Path) -> None:
    await (await _open(data_dir)).close()
    async with await Store.open(data_dir, readonly=True) as store:
        with pytest.raises(DatabaseError, match="read-only"):
            async with store._db.transaction():
                pass


async def test_a_cancel_during_commit_returns_only_after_it(data_dir: Path) -> None:
    # If the caller returned while its COMMIT still ran, a read on the reader right after
    # would see the state before the commit, and the state after a moment later.
    store = await _open(data_dir)
    db = store._db
    body_done = asyncio.Event()

    async def block() -> None:
        async with db.transaction() as tx:
            await tx.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(ROWS)])
            body_done.set()  # no await left in the body: the next one is the COMMIT's

    try:
        for _ in range(5):
            body_done.clear()
            task = asyncio.create_task(block())
            await body_done.wait()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert await _rows(db) == list(range(ROWS))  # committed, and visible at once
            async with db.transaction() as tx:
                await tx.execute("DELETE FROM t")
    finally:
        await store.close()
