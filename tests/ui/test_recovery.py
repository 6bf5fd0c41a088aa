"""The recovery screen: shown first, resume with one key, dismiss, decide later."""

from __future__ import annotations

from textual.widgets import DataTable

from tui_scraper.domain import Progress, Status
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.recovery import RecoveryScreen
from tui_scraper.ui.screens.sessions import SessionsScreen
from tui_scraper.ui.text import short_url

from .conftest import make_app
from .helpers import screen_text, until
from .scripted import ScriptedService, record_of
from .seed import Seeder


async def _two(seeder: Seeder) -> tuple[str, str]:
    a = await seeder.add(
        "http://demo.test/a", Status.INTERRUPTED, progress=Progress(done=4), reason="SIGHUP"
    )
    b = await seeder.add("http://demo.test/b", Status.PAUSED, reason="paused by the user")
    await seeder.add("http://demo.test/c", Status.COMPLETED)
    await seeder.add("http://demo.test/d", Status.INTERRUPTED, dismissed=True)
    return a.id, b.id


async def test_shown_first_with_reason_and_figures(
    service: ScriptedService, seeder: Seeder
) -> None:
    await _two(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecoveryScreen)
        assert app.screen.query_one(DataTable).row_count == 2  # dismissed and finished: not here
        text = screen_text(app)
        assert "SIGHUP" in text and "paused by the user" in text
        assert "http://demo.test/b" in text


async def test_not_shown_when_nothing_to_recover(service: ScriptedService, seeder: Seeder) -> None:
    await seeder.add("http://demo.test/c", Status.COMPLETED)
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)


async def test_r_resumes_into_live_progress(service: ScriptedService, seeder: Seeder) -> None:
    a, _b = await _two(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(a))
        await pilot.press("r")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)
        assert app.screen.session_id == a
        assert (await record_of(service, a)).status is Status.RUNNING
        await pilot.press("escape")  # back goes home, not to the recovery list
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)


async def test_enter_resumes_too(service: ScriptedService, seeder: Seeder) -> None:
    _a, b = await _two(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(b))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)
        assert ("start", b) in service.calls


async def test_d_dismisses_and_the_last_one_closes_the_screen(
    service: ScriptedService, seeder: Seeder
) -> None:
    a, b = await _two(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RecoveryScreen)
        await pilot.press("d")
        await pilot.pause()
        assert screen.query_one(DataTable).row_count == 1
        await pilot.press("d")
        await pilot.pause()
        await pilot.pause()
        assert {c[1] for c in service.calls if c[0] == "dismiss"} == {a, b}
        assert isinstance(app.screen, SessionsScreen)
        assert Status.RUNNING not in [(await record_of(service, s)).status for s in (a, b)]


async def test_escape_decides_later(service: ScriptedService, seeder: Seeder) -> None:
    await _two(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert not [c for c in service.calls if c[0] in ("start", "dismiss")]
        # and the palette brings it back
        app.show_recovery()
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecoveryScreen)


async def test_target_column_shortens_as_the_sessions_list_does_at_80_columns(
    service: ScriptedService, seeder: Seeder
) -> None:
    deep = await seeder.add(
        "http://127.0.0.1:41234/docs/guide/start.html", Status.INTERRUPTED, reason="SIGHUP"
    )
    page = await seeder.add("http://127.0.0.1:41234/page/7", Status.PAUSED)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RecoveryScreen))
        table = app.screen.query_one(DataTable)
        width = table.columns["target"].width  # type: ignore[index]
        assert width < len("http://127.0.0.1:41234/page/7")
        cell = str(table.get_cell(deep.id, "target"))
        assert cell == short_url(deep.target_url, width)  # the sessions list's rule
        assert len(cell) <= width and not cell.startswith("http")
        assert str(table.get_cell(page.id, "target")).endswith("/page/7")
        await pilot.resize_terminal(120, 30)  # wider: shortened again for the new width
        await until(pilot, lambda: table.columns["target"].width > width)  # type: ignore[index]
        await pilot.pause()
        wide = table.columns["target"].width  # type: ignore[index]
        assert str(table.get_cell(page.id, "target")) == short_url(page.target_url, wide)
