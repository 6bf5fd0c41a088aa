"""SVG snapshots of the Schedules screen (w) at 80×24 and 120×40: two schedules, one run, a
queue of two. Ids and times are fixed as in the other snapshots (the schedules module's clock
and ids too)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.seed import FixedClock
from tui_scraper.backends.sqlite import Store
from tui_scraper.backends.sqlite import schedules as store_schedules
from tui_scraper.domain import CrawlConfig
from tui_scraper.domain.schedules import ScheduleSpec
from tui_scraper.ui.screens.schedules import SchedulesScreen

from .conftest import History
from .test_snapshots import SIZES, _settle


@pytest.fixture
def planned(history: History) -> Iterator[History]:
    clock: FixedClock = history.clock
    counter = itertools.count(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_schedules, "time", SimpleNamespace(time=clock))
        patch.setattr(
            store_schedules,
            "uuid",
            SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=f"5c{next(counter):02d}" + "e" * 28)),
        )

        async def seed() -> None:
            store = await Store.open(history.data_dir)
            try:
                nightly = await store.add_schedule(
                    ScheduleSpec(
                        CrawlConfig(target_url="http://demo.test/"),
                        cron="0 3 * * *",
                        tz="Europe/Paris",
                    )
                )
                await store.add_schedule(
                    ScheduleSpec(
                        CrawlConfig(target_url="http://demo.test/news/"),
                        every_s=21600.0,
                        missed="skip",
                    )
                )
                await store.fire_schedule(
                    nightly.id,
                    due_at=nightly.next_run_at,
                    next_run_at=nightly.next_run_at + 86400,
                    outcome="started",
                    detail="",
                    who="service",
                )
                for path in ("shop/", "blog/"):
                    session = await store.create_session(
                        CrawlConfig(target_url=f"http://demo.test/{path}"), who="cli"
                    )
                    await store.enqueue_session(session.id)
            finally:
                await store.close()

        asyncio.run(seed())
        yield history


@pytest.mark.parametrize("size", SIZES)
def test_schedules(snap_compare: Any, size: tuple[int, int], planned: History) -> None:
    app = planned.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape")
        await _settle(pilot)
        await pilot.press("w")
        screen = pilot.app.screen
        assert isinstance(screen, SchedulesScreen)
        while screen.planning is None or not screen.views:
            await pilot.pause(0.05)
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
