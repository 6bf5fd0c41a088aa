"""The SQLite side of control records: migration 3, older and newer files, other processes."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import ControlNotFound, Store
from tui_scraper.backends.sqlite.migrations import LATEST_VERSION, MIGRATIONS, _statements
from tui_scraper.domain import DatabaseError, Status
from tui_scraper.domain.records import ControlCommand

from .helpers import child_env, child_script, config, fingerprint

CONTROL_VERSION = 3  # the migration that added session_control

POSTER = """
import asyncio, sys
from pathlib import Path
from tui_scraper.backends.sqlite import ControlNotFound, Store

async def main() -> None:
    async with await Store.open(Path(sys.argv[1])) as store:
        record = await store.post_control(sys.argv[2], "set", who="cli:child", args={"rate": 0.5})
        print(record.id)

asyncio.run(main())
"""


def _database_at(path: Path, version: int) -> None:
    """A database built by the first `version` migrations, with one paused session."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for migration in MIGRATIONS[:version]:
            for statement in _statements(migration):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {version}")
        db.execute(
            "INSERT INTO sessions (id, target_url, status, config, created_at, last_updated) "
            "VALUES (?, 'http://127.0.0.1:9/', 'paused', ?, 1.0, 1.0)",
            ("a" * 32, config().to_json()),
        )
    finally:
        db.close()


async def test_an_older_database_gains_the_control_table_and_keeps_its_sessions(
    data_dir: Path,
) -> None:
    _database_at(data_dir / "scraper.db", CONTROL_VERSION - 1)
    async with await Store.open(data_dir) as store:
        assert (await store.get_session("a" * 32)).status is Status.PAUSED
        posted = await store.post_control("a" * 32, ControlCommand.RESUME, who="t")
        assert await store.pending_controls("a" * 32) == [posted]
    db = sqlite3.connect(data_dir / "scraper.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    finally:
        db.close()


async def test_read_only_on_an_older_database_lists_no_commands_and_writes_nothing(
    data_dir: Path,
) -> None:
    _database_at(data_dir / "scraper.db", CONTROL_VERSION - 1)
    before = fingerprint(data_dir)
    async with await Store.open(data_dir, readonly=True) as reader:
        assert await reader.pending_controls("a" * 32) == []
        with pytest.raises(ControlNotFound):
            await reader.get_control(1)
    assert fingerprint(data_dir) == before


@pytest.mark.parametrize("readonly", [False, True])
async def test_a_database_one_version_newer_is_refused_untouched(
    data_dir: Path, readonly: bool
) -> None:
    _database_at(data_dir / "scraper.db", LATEST_VERSION)
    db = sqlite3.connect(data_dir / "scraper.db")
    db.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    db.close()
    before = fingerprint(data_dir)
    with pytest.raises(DatabaseError) as caught:
        await Store.open(data_dir, readonly=readonly)
    assert "newer" in str(caught.value) and "\n" not in str(caught.value)
    assert fingerprint(data_dir) == before


async def test_a_command_posted_by_another_process_reaches_the_worker(
    tmp_path: Path, data_dir: Path
) -> None:
    async with await Store.open(data_dir) as worker:
        record = await worker.create_session(config(), who="t")
        await worker.transition(record.id, Status.RUNNING, reason="go", who="t")
        child = subprocess.run(
            [*child_script(tmp_path, "poster", POSTER), str(data_dir), record.id],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert child.returncode == 0, child.stderr
        [pending] = await worker.pending_controls(record.id)
        assert pending.id == int(child.stdout) and pending.who == "cli:child"
        assert (pending.command, pending.args) == (ControlCommand.SET, {"rate": 0.5})
        assert await worker.mark_control_applied(pending.id, outcome="rate 0.5/s")
        assert await worker.pending_controls(record.id) == []
