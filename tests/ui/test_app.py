"""App-level behaviour: signals, shutdown, palette, footer keys, startup errors."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tui_scraper.domain import Status
from tui_scraper.ui.app import SIGNAL_EXIT_CODE, ScraperApp
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.new_session import NewSessionScreen
from tui_scraper.ui.screens.progress import ProgressScreen

from .conftest import make_app
from .helpers import screen_text
from .scripted import ScriptedService, record_of
from .seed import Seeder, seed_history


async def test_sighup_interrupts_running_crawls_and_exits(
    service: ScriptedService, seeder: Seeder
) -> None:
    record = await seeder.add("http://demo.test/", Status.PENDING)
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        await app.start_session(record.id)
        # Only send the signal once our handler is installed: the default action kills pytest.
        assert signal.SIGHUP in app._signals and signal.SIGTERM in app._signals
        os.kill(os.getpid(), signal.SIGHUP)
        await pilot.pause(0.2)
    assert app.return_code == SIGNAL_EXIT_CODE
    assert ("interrupt_all", ("SIGHUP received", "signal")) in service.calls
    assert (await record_of(service, record.id)).status is Status.INTERRUPTED
    assert service.closed
    # the handlers are removed with the app: a later SIGHUP is not ours to handle
    assert not app._signals or signal.getsignal(signal.SIGHUP) is not None


async def test_sigterm_does_the_same(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert signal.SIGTERM in app._signals
        os.kill(os.getpid(), signal.SIGTERM)
        await pilot.pause(0.2)
    assert app.return_code == SIGNAL_EXIT_CODE
    assert service.closed


async def test_footer_shows_the_keys_of_each_screen(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "r Resume" in screen_text(app) and "esc Later" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        for key in ("⏎ Open", "n New", "r Resume", "d Dismiss", "e Export", "q Quit", "? Keys"):
            assert key in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert "^s Start" in screen_text(app) and "esc Cancel" in screen_text(app)


async def test_palette_runs_screen_actions(service: ScriptedService, seeder: Seeder) -> None:
    record = await seeder.add("http://demo.test/", Status.PENDING)
    app = make_app(service)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.resume_and_show(record.id)
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"cancel this crawl")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)


async def test_palette_new_session_and_builtins(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "New session" in text
        assert "Theme" in text or "Quit" in text  # Textual's own commands are kept
        await pilot.press(*"new session")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NewSessionScreen)


async def test_unusable_database_exits_with_code_2(tmp_path: Path) -> None:
    (tmp_path / "scraper.db").write_bytes(b"this is not a database" * 100)
    app = ScraperApp(tmp_path, sample_hz=None, cursor_blink=False)
    async with app.run_test() as pilot:
        await pilot.pause()
    assert app.return_code == 2
    assert app.startup_error


async def test_palette_offers_the_actions_of_the_home_screen(
    service: ScriptedService, seeder: Seeder
) -> None:
    from tui_scraper.ui.commands import ScraperCommands

    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("escape")  # the recovery screen first
        await pilot.pause()
        screen = app.screen
        table = screen.query_one("DataTable")
        paused = next(r for r in seeder.created if r.status is Status.PAUSED)
        table.move_cursor(row=table.get_row_index(paused.id))  # type: ignore[attr-defined]
        await pilot.pause()
        labels = [label for label, _, _ in ScraperCommands(screen).commands()]
        for wanted in (
            "New session",
            "Filter sessions",
            "Open the highlighted session",
            "Resume the highlighted session",
            "Dismiss the highlighted session",
            "Export the highlighted session",
        ):
            assert wanted in labels
        assert any(label.startswith(f"Open session {paused.short_id}") for label in labels)
