"""The home screen: list, live statuses and every binding."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from tui_scraper.domain import Status
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.export import ExportScreen
from tui_scraper.ui.screens.new_session import NewSessionScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.sessions import SessionsScreen

from .conftest import make_app, recent
from .helpers import screen_text, toasts, until
from .scripted import ScriptedService, record_of
from .seed import Seeder, seed_history


async def _home(pilot, app) -> SessionsScreen:  # type: ignore[no-untyped-def]
    await pilot.pause()
    if not isinstance(app.screen, SessionsScreen):
        await pilot.press("escape")  # the recovery screen comes first when something stopped
        await pilot.pause()
    assert isinstance(app.screen, SessionsScreen)
    return app.screen


def _select(screen: SessionsScreen, session_id: str) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(session_id))


async def test_lists_every_session_with_status(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _home(pilot, app)
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        text = screen_text(app)
        for word in ("completed", "interrupted", "paused", "failed", "http://demo.test/"):
            assert word in text


async def test_empty_history_explains_what_to_do(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await _home(pilot, app)
        assert "Press n to start a crawl" in screen_text(app)
        await pilot.press("r", "d", "e", "enter")  # nothing selected: all disabled, no crash
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert service.calls == []


async def test_n_opens_the_form(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        await _home(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NewSessionScreen)


async def test_enter_opens_detail_or_live_progress(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _home(pilot, app)
        done = next(r for r in seeder.created if r.status is Status.COMPLETED)
        _select(screen, done.id)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SessionDetailScreen)
        await pilot.press("escape")
        await pilot.pause()
        paused = next(r for r in seeder.created if r.status is Status.PAUSED)
        await service.start(paused.id)
        _select(screen, paused.id)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)


async def test_r_resumes_and_shows_progress(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _home(pilot, app)
        paused = next(r for r in seeder.created if r.status is Status.PAUSED)
        _select(screen, paused.id)
        await pilot.press("r")
        await pilot.pause()
        assert ("start", paused.id) in service.calls
        assert isinstance(app.screen, ProgressScreen)
        assert app.screen.session_id == paused.id


async def test_r_is_disabled_for_finished_sessions(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _home(pilot, app)
        done = next(r for r in seeder.created if r.status is Status.COMPLETED)
        _select(screen, done.id)
        await pilot.pause()
        assert screen.check_action("resume", ()) is None
        await pilot.press("r", "d")
        await pilot.pause()
        assert not [c for c in service.calls if c[0] in ("start", "dismiss")]


async def test_d_dismisses_an_interrupted_session(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(notifications=True) as pilot:
        screen = await _home(pilot, app)
        stopped = next(r for r in seeder.created if r.status is Status.INTERRUPTED)
        _select(screen, stopped.id)
        await pilot.press("d")
        await pilot.pause()
        assert ("dismiss", stopped.id) in service.calls
        assert (await record_of(service, stopped.id)).dismissed_at is not None
        assert "stays in the history" in toasts(app)


async def test_e_exports_the_selected_session(
    service: ScriptedService, seeder: Seeder, tmp_path: Path
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    app.export_dir = tmp_path
    async with app.run_test(notifications=True) as pilot:
        screen = await _home(pilot, app)
        done = next(r for r in seeder.created if r.status is Status.COMPLETED)
        _select(screen, done.id)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        out = tmp_path / f"session-{done.id[:8]}.jsonl"
        assert out.exists()
        assert len(out.read_text().splitlines()) == 3
        assert "Exported 3 rows" in toasts(app)


async def test_export_can_be_cancelled(
    service: ScriptedService, seeder: Seeder, tmp_path: Path
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    app.export_dir = tmp_path
    async with app.run_test() as pilot:
        await _home(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert not [c for c in service.calls if c[0] == "export"]


async def test_slash_filters_and_escape_clears(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _home(pilot, app)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press(*"paus")
        await pilot.pause()
        assert screen.query_one(DataTable).row_count == 1
        await pilot.press("enter")  # back to the table, filter kept
        assert isinstance(app.focused, DataTable)
        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one(DataTable).row_count == 4


async def test_live_counters_update_from_stats(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await _home(pilot, app)
        paused = next(r for r in seeder.created if r.status is Status.PAUSED)
        await app.start_session(paused.id)
        await pilot.pause()
        service.feed(paused.id, *recent(7))
        screen.sample()
        await pilot.pause()
        table = screen.query_one(DataTable)
        assert str(table.get_cell(paused.id, "status")) == "running"
        assert str(table.get_cell(paused.id, "done")) == str(10 + 6)


async def test_q_quits_at_once_when_nothing_runs(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        await _home(pilot, app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert service.closed


async def test_q_while_running_asks_then_interrupts(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        await _home(pilot, app)
        paused = next(r for r in seeder.created if r.status is Status.PAUSED)
        await app.start_session(paused.id)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # stay
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert (await record_of(service, paused.id)).status is Status.RUNNING
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    assert ("interrupt_all", ("quit while running", "ui")) in service.calls
    assert (await record_of(service, paused.id)).status is Status.INTERRUPTED
    assert service.closed


async def test_target_column_shows_host_and_path_at_80_columns(
    service: ScriptedService, seeder: Seeder
) -> None:
    deep = await seeder.add("http://127.0.0.1:41234/docs/guide/start.html", Status.COMPLETED)
    page = await seeder.add("http://127.0.0.1:41234/page/7", Status.COMPLETED)
    await seeder.add("https://www.example.org/", Status.COMPLETED)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _home(pilot, app)
        table = screen.query_one(DataTable)
        cell = str(table.get_cell(deep.id, "target"))
        width = table.columns["target"].width  # type: ignore[index]
        assert len(cell) <= width
        assert cell.startswith("127.") and "/docs/gu" in cell  # host and path, no scheme
        # A path that fits is kept whole, the host shortened in the middle instead.
        assert str(table.get_cell(page.id, "target")).endswith("41234/page/7")
        assert "www.example.org/" in screen_text(app)


async def test_the_dismissed_flag_shows_in_the_list_and_in_detail(
    service: ScriptedService, seeder: Seeder
) -> None:
    hidden = await seeder.add(
        "http://demo.test/hidden", Status.INTERRUPTED, progress=None, dismissed=True
    )
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _home(pilot, app)
        table = screen.query_one(DataTable)
        assert str(table.get_cell(hidden.id, "status")) == "dismissed"
        _select(screen, hidden.id)
        await pilot.pause()
        assert "interrupted, dismissed" in screen_text(app)  # the line under the table
        assert screen.check_action("resume", ())  # still resumable
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        await until(pilot, lambda: app.screen.record is not None)  # type: ignore[attr-defined]
        await pilot.pause()
        text = screen_text(app)
        assert "interrupted, dismissed" in text and "Dismissed" in text
