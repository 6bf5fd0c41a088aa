"""T11: a garbage, truncated or newer database is refused with one line and left untouched."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import DatabaseError, DiscoveredLink, PageResult, PageStatus, Progress

from .helpers import config, fingerprint


async def real_database(data_dir: Path) -> None:
    store = await Store.open(data_dir)
    try:
        record = await store.create_session(config(), who="t")
        [seed] = await store.claim_batch(record.id, 1, now=0)
        found = [
            DiscoveredLink(f"http://127.0.0.1:9/{'x' * 200}{i}", 1, seed.id) for i in range(2000)
        ]
        await store.checkpoint(
            record.id,
            [PageResult(seed.id, seed.url, PageStatus.DONE, 1, links=found)],
            Progress(),
            heartbeat=1,
        )
    finally:
        await store.close()


def make_garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def make_text(path: Path) -> None:
    path.write_text("hello, this is not a database\n" * 10)


def make_short(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x10\x00")


async def make_truncated(path: Path) -> None:
    await real_database(path.parent)
    size = path.stat().st_size
    assert size > 64 * 1024
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)


async def make_truncated_odd(path: Path) -> None:
    await real_database(path.parent)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 100)


async def make_newer(path: Path) -> None:
    await real_database(path.parent)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 999")
    db.close()


CASES = {
    "garbage": make_garbage,
    "text": make_text,
    "short": make_short,
    "truncated": make_truncated,
    "truncated_odd": make_truncated_odd,
    "newer": make_newer,
}


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_database_refused_untouched(data_dir: Path, case: str, readonly: bool) -> None:
    data_dir.mkdir(mode=0o700)
    path = data_dir / "scraper.db"
    made = CASES[case](path)
    if made is not None:
        await made
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    before = fingerprint(data_dir)
    with pytest.raises(DatabaseError) as caught:
        await Store.open(data_dir, readonly=readonly)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert ("newer" in message) if case == "newer" else ("not a tui-scraper database" in message)
    assert fingerprint(data_dir) == before
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()


async def test_empty_file_is_a_new_database(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700)
    (data_dir / "scraper.db").touch(mode=0o600)
    store = await Store.open(data_dir)
    try:
        assert await store.list_sessions() == []
    finally:
        await store.close()


async def test_readonly_store_without_database_is_empty(tmp_path: Path) -> None:
    data_dir = tmp_path / "nothing"
    store = await Store.open(data_dir, readonly=True)
    try:
        assert await store.list_sessions() == []
        assert await store.find_recoverable() == []
        assert await store.reap_orphans() == []
        with pytest.raises(DatabaseError):
            await store.create_session(config(), who="t")
    finally:
        await store.close()
    assert not data_dir.exists()


async def test_readonly_store_reads_while_writer_is_open(data_dir: Path) -> None:
    writer = await Store.open(data_dir)
    try:
        record = await writer.create_session(config(), who="t")
        reader = await Store.open(data_dir, readonly=True)
        try:
            assert [r.id for r in await reader.list_sessions()] == [record.id]
            with pytest.raises(DatabaseError):
                await reader.transition(record.id, record.status, reason="x", who="t")
        finally:
            await reader.close()
    finally:
        await writer.close()
