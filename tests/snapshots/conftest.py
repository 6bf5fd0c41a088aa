"""Snapshot determinism: fixed time zone (the screens show local wall-clock times), a seeded
real data dir whose every id and timestamp is fixed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ui.scripted import ScriptedService
from tests.ui.seed import FixedClock, Seeder, frozen_store, pin_update_times, seed_history
from tui_scraper.backends.sqlite import Store
from tui_scraper.backends.sqlite.db import DB_FILENAME
from tui_scraper.ui.app import ScraperApp


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No saved theme of the developer's may change a snapshot."""
    monkeypatch.setenv("TUI_SCRAPER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    return tmp_path / "config"


@dataclass
class History:
    """A data dir seeded with one session of each status, and how to open an app on it."""

    data_dir: Path
    clock: FixedClock
    seeder: Seeder

    def app(self) -> ScraperApp:
        async def open_scripted(data_dir: Path) -> ScriptedService:
            return await ScriptedService.open_at(data_dir, self.clock)

        return ScraperApp(
            self.data_dir,
            open_service=open_scripted,
            sample_hz=None,
            clock=self.clock,
            cursor_blink=False,
        )


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    """Seeded in its own event loop (snap_compare runs the app in another); the store's clock
    and ids stay fixed while the app runs too."""
    clock = FixedClock()
    data_dir = tmp_path / "snapshot-data"

    async def seed() -> Seeder:
        store = await Store.open(data_dir)
        try:
            return await seed_history(Seeder(store, clock))
        finally:
            await store.close()

    with frozen_store(clock):
        seeder = asyncio.run(seed())
        pin_update_times(data_dir / DB_FILENAME, seeder.created)
        clock.now = FixedClock().now  # the app starts at T0, as the seeded history assumes
        yield History(data_dir, clock, seeder)
