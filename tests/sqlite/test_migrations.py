"""Migrations: the committed version-1 database (and every intermediate version) opens."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.backends.sqlite.migrations import LATEST_VERSION, MIGRATIONS, _statements
from tui_scraper.domain import PageResult, PageStatus, Progress, Status

from .helpers import owner

FIXTURE = Path(__file__).with_name("fixtures") / "schema_v1.db"
SESSION_ID = "0123456789abcdef0123456789abcdef"


def schema(path: Path) -> set[tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        return set(
            db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        )
    finally:
        db.close()


async def test_fixture_v1_migrates_and_works(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700)
    shutil.copy(FIXTURE, data_dir / "scraper.db")
    store = await Store.open(data_dir)
    try:
        version = await store._db.run(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
        assert version == LATEST_VERSION
        record = await store.get_session(SESSION_ID)
        assert record.status == Status.INTERRUPTED and record.config.max_pages == 50
        assert record.progress.done == 1
        assert [e.to_status for e in await store.events(SESSION_ID)] == [
            None,
            Status.RUNNING,
            Status.INTERRUPTED,
        ]
        assert [r.id for r in await store.find_recoverable()] == [SESSION_ID]
        await store.acquire_run(SESSION_ID, owner(), who="t", reason="resume")
        assert await store.requeue_fetching(SESSION_ID) == 1
        claimed = await store.claim_batch(SESSION_ID, 10, now=1500.0)
        assert [p.url.rsplit("/", 1)[1] for p in claimed] == ["a", "b"]
        assert await store.next_due_time(SESSION_ID) == 2000.0
        results = [PageResult(p.id, p.url, PageStatus.DONE, 1, fetched_at=1600.0) for p in claimed]
        await store.checkpoint(SESSION_ID, results, Progress(done=3), heartbeat=1600.0)
        counts = await store.page_counts(SESSION_ID)
        assert counts[PageStatus.DONE] == 3 and counts[PageStatus.QUEUED] == 1
        assert len(await store.recent_pages(SESSION_ID, 10)) == 3
    finally:
        await store.close()
    fresh = Path(str(data_dir) + "-fresh")
    await (await Store.open(fresh)).close()
    assert schema(data_dir / "scraper.db") == schema(fresh / "scraper.db")


@pytest.mark.parametrize("start", list(range(LATEST_VERSION + 1)))
async def test_every_version_migrates_to_latest(data_dir: Path, start: int) -> None:
    data_dir.mkdir(mode=0o700)
    db = sqlite3.connect(data_dir / "scraper.db", isolation_level=None)
    for version in range(start):
        for statement in _statements(MIGRATIONS[version]):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {start}")
    db.close()
    store = await Store.open(data_dir)
    try:
        version = await store._db.run(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
        assert version == LATEST_VERSION
    finally:
        await store.close()
