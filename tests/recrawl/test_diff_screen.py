"""The Diff view (Pilot): from a session's detail, compared with the session it was recrawled
from; kinds as filters; Enter on a changed page shows the unified diff of its text, literally."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Static

from tests.ui.conftest import clock, config_dir, make_app, seeder, service
from tests.ui.helpers import screen_text, until
from tests.ui.scripted import ScriptedService
from tests.ui.seed import Seeder
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.diff import DiffScreen

from .diff_seed import HOSTILE_LINE, TARGET, seed_recrawl

__all__ = ["clock", "config_dir", "seeder", "service"]  # the UI suite's fixtures, used here


def _kinds(screen: DiffScreen) -> list[tuple[str, str]]:
    table = screen.query_one("#diff-table", DataTable)
    rows = [table.get_row_at(i) for i in range(table.row_count)]
    return [(str(row[0]), screen.rows[i].url) for i, row in enumerate(rows)]


async def _open_diff(pilot, app, session_id: str) -> DiffScreen:  # type: ignore[no-untyped-def]
    await pilot.pause()
    app.show_detail(session_id)
    await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
    await until(pilot, lambda: app.screen.record is not None)
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.loaded)
    assert isinstance(app.screen, DiffScreen)
    return app.screen


async def test_diff_view_lists_each_kind_and_filters(
    service: ScriptedService, seeder: Seeder
) -> None:
    a, b = await seed_recrawl(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_diff(pilot, app, b.id)
        assert screen.loaded is not None and screen.loaded.before.id == a.id
        assert _kinds(screen) == [
            ("changed", f"{TARGET}changed"),
            ("removed", f"{TARGET}gone"),
            ("added", f"{TARGET}new"),
        ]
        text = screen_text(app)
        assert "added 1  removed 1  changed 1  unchanged 2  status 1" in text
        assert f"{a.short_id} → {b.short_id}" in text
        await pilot.press("f")  # changed only
        await pilot.pause()
        assert _kinds(screen) == [("changed", f"{TARGET}changed")]
        for _ in range(3):  # added, removed, status
            await pilot.press("f")
        await pilot.pause()
        assert screen.kind == "status"
        assert [url for _kind, url in _kinds(screen)] == [f"{TARGET}gone"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))


async def test_enter_on_a_changed_page_shows_its_text_diff_literally(
    service: ScriptedService, seeder: Seeder
) -> None:
    _a, b = await seed_recrawl(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_diff(pilot, app, b.id)
        screen.query_one("#diff-table").focus()
        await pilot.press("enter")
        pane = screen.query_one("#diff-text", Static)
        await until(pilot, lambda: "new words" in str(pane.render()))
        shown = str(pane.render())
        assert "-old words" in shown and "+new words" in shown
        assert " first line" in shown  # context, unchanged
        # The site's text is shown as it is: markup-looking text literally, controls visible.
        assert "+[b]not bold[/b] \ufffd[31mred?" in shown
        assert HOSTILE_LINE not in shown
        await pilot.press("down", "enter")  # the removed page: nothing to compare
        await until(pilot, lambda: "earlier session only" in str(pane.render()))


async def test_a_session_with_nothing_to_compare_says_so(
    service: ScriptedService, seeder: Seeder
) -> None:
    a, _b = await seed_recrawl(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        other = next(s for s in seeder.created if s.target_url != TARGET)
        await pilot.pause()
        app.show_detail(other.id)
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        await pilot.press("d")
        await until(pilot, lambda: "No other session of this target" in screen_text(app))
        await pilot.press("escape")
        # A compared with: its only candidate is B (newer, not its recrawl source).
        app.show_detail(a.id)
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        await until(pilot, lambda: app.screen.record is not None)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.loaded)
        assert isinstance(app.screen, DiffScreen)
        assert [k for k, _url in _kinds(app.screen)] == ["changed", "added", "removed"]


async def test_r_on_a_finished_session_confirms_then_starts_a_recrawl(
    service: ScriptedService, seeder: Seeder
) -> None:
    a, b = await seed_recrawl(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.show_detail(a.id)
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        await until(pilot, lambda: app.screen.record is not None)
        before = len(await service.list_sessions())
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        assert len(await service.list_sessions()) == before
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")

        async def created() -> bool:
            return len(await service.list_sessions()) == before + 1

        deadline = asyncio.get_running_loop().time() + 10
        while not await created():
            assert asyncio.get_running_loop().time() < deadline, "no recrawl was created"
            await pilot.pause(0.05)
        sessions = await service.list_sessions()
        [new] = [s for s in sessions if s.config.recrawl_of == a.id and s.id != b.id]
        assert new.target_url == TARGET
