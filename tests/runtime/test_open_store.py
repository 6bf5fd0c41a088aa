"""backends/open.py: the one opener of a store location, and the forced exit's transition
through the right backend; real SQLite files."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tui_scraper.backends.open import interrupt_now, open_store
from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import CrawlConfig, ScraperError, Status
from tui_scraper.domain.location import StoreLocation


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_data_dir_or_a_sqlite_location_opens_the_sqlite_store_there(
    tmp_path: Path,
) -> None:
    looked = tmp_path / "looked"
    look = await open_store(StoreLocation(looked), readonly=True)  # no database there yet
    try:
        assert await look.list_sessions() == []
    finally:
        await look.close()
    assert not looked.exists()  # a read-only open creates nothing
    store = await open_store(StoreLocation(tmp_path / "d"))
    try:
        assert isinstance(store, Store) and store.data_dir == tmp_path / "d"
        created = await store.create_session(CrawlConfig(target_url="http://127.0.0.1:9/"), who="t")
    finally:
        await store.close()
    again = await open_store(tmp_path / "d", readonly=True)  # a bare data dir: the same store
    try:
        assert [s.id for s in await again.list_sessions()] == [created.id]
    finally:
        await again.close()


async def test_a_postgresql_location_that_cannot_be_opened_creates_nothing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "d"
    url = f"postgresql://crawler:pw-never-shown@127.0.0.1:{_free_port()}/x?connect_timeout=5"
    with pytest.raises(ScraperError) as refused:
        await open_store(StoreLocation(data_dir, url))
    assert "pw-never-shown" not in str(refused.value)
    assert not data_dir.exists()


async def test_the_forced_exit_settles_running_sessions_through_the_location(
    tmp_path: Path,
) -> None:
    location = StoreLocation(tmp_path / "d")
    store = await open_store(location)
    try:
        record = await store.create_session(CrawlConfig(target_url="http://127.0.0.1:9/"), who="t")
        await store.transition(record.id, Status.RUNNING, reason="go", who="t")
        moved = interrupt_now(location, [record.id], reason="forced", who="signal", timeout=1)
        assert moved == [record.id]
        assert (await store.get_session(record.id)).status is Status.INTERRUPTED
    finally:
        await store.close()
    unreachable = StoreLocation(
        tmp_path / "d", f"postgresql://u:p@127.0.0.1:{_free_port()}/x?connect_timeout=1"
    )
    # Never raises: the caller exits right after, and the next start reaps what was left.
    assert interrupt_now(unreachable, [record.id], reason="r", who="w", timeout=1) == []


async def test_the_preloaded_blob_writer_module_is_the_one_each_store_hands_its_workers(
    tmp_path: Path, pg_url: str
) -> None:
    from tui_scraper.backends.open import blob_writer_module

    for location in (StoreLocation(tmp_path / "d"), StoreLocation(tmp_path / "p", db_url=pg_url)):
        store = await open_store(location)
        try:
            assert blob_writer_module(location) == type(store.blobs).__module__
        finally:
            await store.close()
