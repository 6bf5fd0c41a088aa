"""The Analytics tab follows a real crawl while it runs (app, manager, store and engine real)."""

from __future__ import annotations

from pathlib import Path

from tests.ui.helpers import screen_text, until
from tui_scraper.demo import DemoServer
from tui_scraper.domain import CrawlConfig, Status
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.widgets.analytics import AnalyticsView


async def test_the_tab_of_a_running_crawl_moves_on_its_own_then_settles(tmp_path: Path) -> None:
    server = DemoServer()
    url = await server.start()
    try:
        app = ScraperApp(tmp_path, sample_hz=10, cursor_blink=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            session_id = await app.create_and_start(CrawlConfig(target_url=url, rate_per_host=25))
            await until(pilot, lambda: isinstance(app.screen, ProgressScreen), timeout=30)
            await pilot.press("i")  # the running session's detail
            await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
            await pilot.press("4")
            view = app.screen.query_one(AnalyticsView)

            def pages() -> int:
                return view.report.pages if view.report is not None else 0

            await until(pilot, lambda: view.report is not None and view.report.running, 30)
            await until(pilot, lambda: pages() > 0, timeout=30)
            seen = pages()
            await until(pilot, lambda: pages() > seen, timeout=30)  # no key pressed
            assert "waiting  ETA" in screen_text(app)
            await until(pilot, lambda: not view.report or not view.report.running, timeout=120)
            final = await app.service.get(session_id)
            assert final.status is Status.COMPLETED
            assert view.report is not None
            assert view.report.pages == final.progress.done + final.progress.failed + (
                final.progress.skipped
            )
    finally:
        await server.stop()
