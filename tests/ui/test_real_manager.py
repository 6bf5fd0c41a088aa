"""The app against the real SessionManager, store and engine, crawling the demo site."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import DataTable

from tui_scraper.domain import Status
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.recovery import RecoveryScreen
from tui_scraper.ui.screens.sessions import SessionsScreen

from .helpers import screen_text

FINAL = (Status.COMPLETED, Status.FAILED)


async def _until(pilot, condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await pilot.pause(0.1)


async def test_demo_crawl_runs_to_the_end_with_live_progress(tmp_path: Path) -> None:
    app = ScraperApp(tmp_path, demo=True, sample_hz=None, cursor_blink=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        screen = app.screen
        assert isinstance(screen, ProgressScreen)

        def sampled_final() -> bool:
            screen.sample()
            return screen.state in FINAL

        await _until(pilot, sampled_final)
        await pilot.pause(0.3)
        assert screen.state is Status.COMPLETED, screen_text(app)
        assert app.demo_url and app.demo_url in screen_text(app)
        await pilot.press("i")
        await _until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        await pilot.pause(0.5)
        assert "completed" in screen_text(app)
        await pilot.press("escape", "escape")
        await _until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.pause(0.3)
        assert app.screen.query_one(DataTable).row_count == 1


async def test_quit_while_running_then_recover_and_resume(tmp_path: Path) -> None:
    from tui_scraper.demo import DemoServer

    server = DemoServer(slow_seconds=2.0)
    url = await server.start()
    try:
        app = ScraperApp(tmp_path, sample_hz=None, cursor_blink=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("n")
            await pilot.pause()
            await pilot.press(*url, "tab", *"30", "tab", "tab", "tab", "tab", *"10")
            form = app.screen
            assert form.values()["rate"] == "10"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await _until(pilot, lambda: isinstance(app.screen, ProgressScreen))
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("q")
            await _until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            await pilot.pause(0.5)
        records = await _records(tmp_path)
        assert [r.status for r in records] == [Status.INTERRUPTED]

        app = ScraperApp(tmp_path, sample_hz=None, cursor_blink=False)
        async with app.run_test(size=(80, 24)) as pilot:
            # Shown within a second of start (issue 4).
            await _until(pilot, lambda: isinstance(app.screen, RecoveryScreen), timeout=1.0)
            await _until(pilot, lambda: "quit while running" in screen_text(app), timeout=5.0)
            await pilot.press("r")
            await _until(pilot, lambda: isinstance(app.screen, ProgressScreen))
            screen = app.screen
            assert isinstance(screen, ProgressScreen)

            def sampled_final() -> bool:
                screen.sample()
                return screen.state in FINAL

            await _until(pilot, sampled_final)
            assert screen.state is Status.COMPLETED
    finally:
        await server.stop()


async def _records(data_dir: Path) -> list:  # type: ignore[type-arg]
    from tui_scraper.runtime.manager import SessionManager

    manager = await SessionManager.open(data_dir)
    try:
        return await manager.list_sessions()
    finally:
        await manager.close()
