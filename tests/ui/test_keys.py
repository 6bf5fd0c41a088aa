"""Keys that work everywhere: q on live progress, ctrl+c, ?/F1 help, Enter shown, disabled keys."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tui_scraper.domain import Status
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.help import KeyHelpScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.sessions import SessionsScreen

from .conftest import make_app
from .helpers import screen_text, toasts, until
from .scripted import ScriptedService, record_of
from .seed import Seeder, seed_history


async def _live(pilot, app, service: ScriptedService, seeder: Seeder) -> ProgressScreen:  # type: ignore[no-untyped-def]
    record = await seeder.add("http://demo.test/", Status.PENDING)
    await pilot.pause()
    await app.resume_and_show(record.id)
    await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
    await pilot.pause()
    assert isinstance(app.screen, ProgressScreen)
    return app.screen


async def test_q_on_live_progress_asks_then_checkpoints(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _live(pilot, app, service, seeder)
        assert "q Quit" in screen_text(app)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("q")  # a second q does not stack a second question
        await pilot.pause()
        assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == 1
        await pilot.press("n")  # stay: the crawl goes on
        await until(pilot, lambda: app.screen is screen)
        assert service.running_ids()
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not service.running_ids())
    assert app.return_code == 0
    assert ("interrupt_all", ("quit while running", "ui")) in service.calls
    (record,) = seeder.created
    assert (await record_of(service, record.id)).status is Status.INTERRUPTED


async def test_ctrl_c_is_the_quit_key_not_a_toast(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _live(pilot, app, service, seeder)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "to quit" not in toasts(app)  # Textual's "Press ctrl+q to quit the app"
        await pilot.press("n")
        await pilot.pause()
        assert service.running_ids()
        service.finish(next(iter(service.running_ids())))
        await pilot.pause()
        await pilot.press("ctrl+c")  # nothing running: quits at once
        await until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_question_mark_and_f1_show_this_screens_keys(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")  # recovery → sessions
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.pause()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeyHelpScreen))
        await pilot.pause()
        text = screen_text(app)
        for shown in ("New", "Open", "Resume", "Dismiss", "Export", "Filter", "Quit"):
            assert shown in text, shown
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await _live(pilot, app, service, seeder)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, KeyHelpScreen))
        await pilot.pause()
        text = screen_text(app)
        assert "Pause/resume" in text and "Cancel crawl" in text and "Quit" in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))


async def test_help_says_why_a_key_is_disabled(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.pause()
        # the newest first: failed (cancelled) on top, then paused, interrupted, completed
        table = app.screen.query_one(DataTable)
        completed = next(r for r in seeder.created if r.status is Status.COMPLETED)
        table.move_cursor(row=table.get_row_index(completed.id))
        await pilot.pause()
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, KeyHelpScreen))
        await pilot.pause()
        text = screen_text(app)  # the reason wraps inside the dialog
        assert f"{completed.short_id} is completed" in text and "can be resumed" in text


async def test_enter_open_is_in_the_footer(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.pause()
        assert "enter Open" in screen_text(app) or "⏎ Open" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, SessionsScreen))


async def test_a_disabled_key_says_why_when_pressed(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        completed = next(r for r in seeder.created if r.status is Status.COMPLETED)
        table.move_cursor(row=table.get_row_index(completed.id))
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: "can be resumed" in toasts(app))
        assert f"{completed.short_id} is completed" in toasts(app)
        assert ("start", completed.id) not in service.calls
        await pilot.press("d")
        await until(pilot, lambda: "can be dismissed" in toasts(app))


async def test_pause_and_cancel_on_a_finished_session_say_why(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        done = next(r for r in seeder.created if r.status is Status.COMPLETED)
        app.show_progress(done.id)
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        screen = app.screen
        await until(pilot, lambda: screen.state is Status.COMPLETED)  # type: ignore[attr-defined]
        await pilot.press("p")
        await until(pilot, lambda: "nothing to pause or resume" in toasts(app))
        await pilot.press("c")
        await until(pilot, lambda: "nothing to cancel" in toasts(app))
        assert not isinstance(app.screen, ConfirmScreen)


async def test_new_screens_read_without_colour(
    service: ScriptedService, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR and an ANSI theme: the help, the dismissed flag and disabled keys stay legible
    as text (not only as a colour)."""
    monkeypatch.setenv("NO_COLOR", "1")
    await seed_history(seeder)
    hidden = await seeder.add("http://demo.test/hidden", Status.PAUSED, dismissed=True)
    app = make_app(service)
    app.theme = "ansi-dark"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(hidden.id))
        await pilot.pause()
        text = screen_text(app)
        assert "dismissed" in text and "paused, dismissed" in text
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, KeyHelpScreen))
        await pilot.pause()
        assert "Keys: Sessions" in screen_text(app) and "Export" in screen_text(app)
