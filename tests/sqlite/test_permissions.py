"""T23: our directories 0700, the database, its -wal/-shm, blobs and lock files 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import Status
from tui_scraper.paths import ensure_data_dir, resolve_data_dir

from .helpers import config, owner


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_modes_under_umask(tmp_path: Path, umask: int) -> None:
    data_dir = tmp_path / "deep" / "data"
    store = await Store.open(data_dir)
    try:
        record = await store.create_session(config(), who="t")
        await store.acquire_run(record.id, owner(), who="t", reason="go")
        store.blobs.write(b"blob" * 100)
        db = data_dir / "scraper.db"
        sidecars = [Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(p.exists() for p in sidecars)  # WAL is on while the store is open
        files = [db, *sidecars, *data_dir.glob("blobs/*/*"), *data_dir.glob("locks/*")]
        assert len(files) == 5
        for path in files:
            assert mode(path) == 0o600, (path, oct(mode(path)))
        for directory in [
            data_dir,
            data_dir.parent,
            data_dir / "blobs",
            data_dir / "locks",
            *data_dir.glob("blobs/*"),
        ]:
            assert mode(directory) == 0o700, (directory, oct(mode(directory)))
        await store.transition(record.id, Status.PAUSED, reason="p", who="t")
    finally:
        await store.close()


async def test_existing_user_directory_keeps_its_mode(tmp_path: Path) -> None:
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    store = await Store.open(data_dir)
    await store.close()
    assert mode(data_dir) == 0o755
    assert mode(data_dir / "blobs") == 0o700 and mode(data_dir / "scraper.db") == 0o600


def test_resolve_data_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_SCRAPER_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("TUI_SCRAPER_DATA_DIR")
    assert "tui-scraper" in str(resolve_data_dir(None))
    assert not (tmp_path / "cli").exists() and not (tmp_path / "env").exists()


def test_ensure_data_dir_refuses_a_file(tmp_path: Path) -> None:
    from tui_scraper.domain import DatabaseError

    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(DatabaseError):
        ensure_data_dir(target)
