"""The Schedules screen (w): schedules and the queue, listed and edited through the service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from textual.widgets import DataTable, Input

from tui_scraper.domain import CrawlConfig
from tui_scraper.domain.schedules import ScheduleSpec
from tui_scraper.service.planning import PlanningService
from tui_scraper.ui.screens.schedules import ScheduleFormScreen, SchedulesScreen
from tui_scraper.ui.screens.sessions import SessionsScreen

from .conftest import HOSTILE, make_app
from .helpers import screen_text, until
from .scripted import ScriptedService


@pytest.fixture
async def planning(service: ScriptedService) -> AsyncIterator[PlanningService]:
    opened = await PlanningService.open(service.location, who="test")
    try:
        yield opened
    finally:
        await opened.close()


async def _open(pilot, app) -> SchedulesScreen:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
    await pilot.press("w")
    await until(pilot, lambda: isinstance(app.screen, SchedulesScreen))
    screen = app.screen
    assert isinstance(screen, SchedulesScreen)
    await until(pilot, lambda: screen.planning is not None)
    return screen


def _rows(screen: SchedulesScreen, table_id: str) -> int:
    return screen.query_one(f"#{table_id}", DataTable).row_count


async def test_lists_schedules_and_the_queue(
    service: ScriptedService, planning: PlanningService
) -> None:
    spec = ScheduleSpec(CrawlConfig(target_url="http://127.0.0.1:9/"), every_s=21600.0)
    record = await planning.add_schedule(spec)
    for name in ("a", "b"):
        await planning.queue(CrawlConfig(target_url=f"http://127.0.0.1:9/{name}"))
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _rows(screen, "schedules") == 1 and _rows(screen, "queue") == 2)
        text = screen_text(app)
        assert record.short_id in text and "every 6h" in text and "once" in text
        assert "no run yet" in text and "service not running" in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))


async def test_queue_moves_and_removal(service: ScriptedService, planning: PlanningService) -> None:
    a, b = [
        (await planning.queue(CrawlConfig(target_url=f"http://127.0.0.1:9/{n}"))).session.id
        for n in "ab"
    ]
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _rows(screen, "queue") == 2)
        screen.query_one("#queue", DataTable).focus()
        await pilot.press("d")  # the first one down a place

        async def order() -> list[str]:
            return [q.session.id for q in await planning.queued()]

        orders: list[list[str]] = []

        async def refresh() -> None:
            orders.append(await order())

        await until(pilot, lambda: [q.session.id for q in screen.queued] == [b, a])
        await refresh()
        assert orders[-1] == [b, a]
        await pilot.press("x")  # the cursor followed it: `a` leaves the queue
        await until(pilot, lambda: [q.session.id for q in screen.queued] == [b])
        assert await order() == [b]
        assert (await service.get(a)).status.value == "pending"  # kept


async def test_pause_and_remove_a_schedule(
    service: ScriptedService, planning: PlanningService
) -> None:
    spec = ScheduleSpec(CrawlConfig(target_url="http://127.0.0.1:9/"), every_s=60.0)
    record = await planning.add_schedule(spec)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _rows(screen, "schedules") == 1)
        await pilot.press("p")
        await until(pilot, lambda: screen.views and screen.views[0].schedule.paused)
        assert "paused" in screen_text(app)
        assert (await planning.schedule(record.id)).paused
        await pilot.press("p")
        await until(pilot, lambda: screen.views and not screen.views[0].schedule.paused)
        await pilot.press("x")
        await until(pilot, lambda: _rows(screen, "schedules") == 0)
        assert [v.schedule.id for v in await planning.schedules()] == []


async def test_add_uses_the_new_session_form_and_checks_the_timing(
    service: ScriptedService, planning: PlanningService
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ScheduleFormScreen))
        form = app.screen
        assert isinstance(form, ScheduleFormScreen)
        await until(pilot, lambda: form.sub_title == "New schedule")
        assert form.focused is form.query_one("#t-every", Input)
        form.query_one("#f-url", Input).value = "127.0.0.1:9/news"
        form.query_one("#t-cron", Input).value = "61 * * * *"
        await pilot.pause()  # the fields' change messages are handled, as when typed
        await pilot.press("ctrl+s")
        await until(pilot, lambda: form.query_one("#terr-cron").has_class("-shown"))
        assert "not a cron expression" in screen_text(app)
        assert await planning.schedules() == []
        # A crawl field is checked by the form's own rules.
        form.query_one("#t-cron", Input).value = "0 3 * * *"
        form.query_one("#f-concurrency", Input).value = "0"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: form.query_one("#err-concurrency").has_class("-shown"))
        assert await planning.schedules() == []
        form.query_one("#f-concurrency", Input).value = "4"
        form.query_one("#t-tz", Input).value = "Europe/Paris"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen)
        await until(pilot, lambda: _rows(screen, "schedules") == 1)
        [view] = await planning.schedules()
        assert view.schedule.cron == "0 3 * * *" and view.schedule.tz == "Europe/Paris"
        assert view.schedule.config.target_url == "https://127.0.0.1:9/news"
        assert view.schedule.config.concurrency == 4
        # Adding a schedule starts no crawl.
        assert [c for c, _ in service.calls if c == "create"] == []


async def test_hostile_urls_are_shown_literally(
    service: ScriptedService, planning: PlanningService
) -> None:
    hostile = [h for h in HOSTILE if " " not in h and h.isprintable()]
    stored = []
    for text in hostile:
        queued = await planning.queue(CrawlConfig(target_url=f"http://127.0.0.1:9/?q={text}"))
        stored.append(queued.session.target_url)
    app = make_app(service)
    async with app.run_test(size=(160, 30)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _rows(screen, "queue") == len(hostile))
        assert isinstance(app.screen, SchedulesScreen)  # no markup ran (no app.quit)
        shown = screen_text(app)
        for url in stored:
            assert url.split("?q=")[1] in shown


async def test_the_sessions_list_shows_queued_sessions_with_their_place(
    service: ScriptedService, planning: PlanningService
) -> None:
    first = await planning.queue(CrawlConfig(target_url="http://127.0.0.1:9/a"))
    second = await planning.queue(CrawlConfig(target_url="http://127.0.0.1:9/b"))
    loose = await service.create(CrawlConfig(target_url="http://127.0.0.1:9/c"))
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        home = app.screen
        assert isinstance(home, SessionsScreen)
        await until(pilot, lambda: len(home.records) == 3 and bool(home.places))
        assert home.places == {first.session.id: 1, second.session.id: 2}
        table = home.query_one(DataTable)
        cells = {key: str(table.get_cell(key, "status")) for key in (first.session.id, loose.id)}
        assert cells[first.session.id] == "pending #1"
        assert cells[loose.id] == "pending"


async def test_edit_opens_the_form_filled_and_saves_over_the_schedule(
    service: ScriptedService, planning: PlanningService
) -> None:
    config = CrawlConfig(
        target_url="http://127.0.0.1:9/",
        max_pages=7,
        exclude=("/tag/",),
        trap_max_per_pattern=5,  # not in the form: kept as it was
    )
    record = await planning.add_schedule(ScheduleSpec(config, every_s=7200.0, missed="skip"))
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _rows(screen, "schedules") == 1)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ScheduleFormScreen))
        form = app.screen
        assert isinstance(form, ScheduleFormScreen)
        await until(pilot, lambda: form.sub_title == "Edit schedule")
        assert form.query_one("#t-every", Input).value == "2h"
        assert form.query_one("#f-max_pages", Input).value == "7"
        assert not form.is_dirty()
        form.query_one("#t-every", Input).value = ""
        form.query_one("#t-cron", Input).value = "30 4 * * 1"
        form.query_one("#f-max_pages", Input).value = "9"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen)
        [view] = await planning.schedules()
        saved = view.schedule
        assert saved.id == record.id
        assert (saved.every_s, saved.cron, saved.missed) == (None, "30 4 * * 1", "skip")
        assert saved.config.max_pages == 9 and saved.config.exclude == ("/tag/",)
        assert saved.config.trap_max_per_pattern == 5
