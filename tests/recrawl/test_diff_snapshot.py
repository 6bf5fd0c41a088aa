"""The Diff view as an SVG snapshot at 80×24: a recrawl compared with its source, the text
diff of the changed page open. Deterministic as tests/snapshots is: fixed ids, clock and UTC.
Update after reviewing the report: `pytest tests/recrawl/test_diff_snapshot.py --snapshot-update`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.scripted import ScriptedService
from tests.ui.seed import FixedClock, Seeder, frozen_store, pin_update_times
from tui_scraper.backends.sqlite import Store
from tui_scraper.backends.sqlite.db import DB_FILENAME
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.diff import DiffScreen

from .diff_seed import seed_recrawl


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ScraperApp, str]]:
    monkeypatch.setenv("TUI_SCRAPER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    clock = FixedClock()
    data_dir = tmp_path / "snapshot-data"

    async def seed() -> tuple[Seeder, str]:
        store = await Store.open(data_dir)
        try:
            seeder = Seeder(store, clock)
            _a, b = await seed_recrawl(seeder)
            return seeder, b.id
        finally:
            await store.close()

    with frozen_store(clock):
        seeder, later = asyncio.run(seed())
        pin_update_times(data_dir / DB_FILENAME, seeder.created)
        clock.now = FixedClock().now

        async def open_scripted(where: Path) -> ScriptedService:
            return await ScriptedService.open_at(where, clock)

        app = ScraperApp(
            data_dir, open_service=open_scripted, sample_hz=None, clock=clock, cursor_blink=False
        )
        yield app, later


def test_diff_view(snap_compare: Any, seeded: tuple[ScraperApp, str]) -> None:
    app, later = seeded

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        app.show_detail(later)
        for _ in range(100):
            await pilot.pause(0.05)
            screen = app.screen
            if getattr(screen, "record", None) is not None:
                break
        await pilot.press("d")
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, DiffScreen) and app.screen.loaded is not None:
                break
        app.screen.query_one("#diff-table").focus()
        await pilot.press("enter")
        for _ in range(100):
            await pilot.pause(0.05)
            if "new words" in str(app.screen.query_one("#diff-text").render()):
                break
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
