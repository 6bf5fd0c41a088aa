"""SVG snapshots of the Analytics tab (and the comparison of two sessions) at 80×24 and 120×40.

The completed session of the seeded history gets the analytics rows of a made-up 400-page
crawl (tests/analytics/seeding.py): fixed figures, fixed times.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.analytics.seeding import seed_analytics
from tests.ui.seed import T0
from tui_scraper.backends.sqlite.db import DB_FILENAME
from tui_scraper.domain import Status
from tui_scraper.ui.screens.analytics import CompareScreen

from .conftest import History
from .test_snapshots import SIZES, _by_status, _settle


@pytest.fixture
def analysed(history: History) -> History:
    db = history.data_dir / DB_FILENAME
    seed_analytics(db, _by_status(history, Status.COMPLETED), T0 - 3000)
    seed_analytics(db, _by_status(history, Status.INTERRUPTED), T0 - 2000, pages=250, seed=3)
    return history


@pytest.mark.parametrize("size", SIZES)
def test_analytics_tab(snap_compare: Any, size: tuple[int, int], analysed: History) -> None:
    app = analysed.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape")
        app.show_detail(_by_status(analysed, Status.COMPLETED))
        await _settle(pilot)
        await pilot.press("4")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_two_sessions(snap_compare: Any, size: tuple[int, int], analysed: History) -> None:
    app = analysed.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape")
        app.push_screen(
            CompareScreen(
                _by_status(analysed, Status.COMPLETED), _by_status(analysed, Status.INTERRUPTED)
            )
        )
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
