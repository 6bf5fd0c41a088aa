"""The Analytics tab of session detail (key 4), with the Pilot: figures, hostile text, live."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, TabbedContent

from tests.ui.conftest import make_app
from tests.ui.helpers import screen_text, until
from tests.ui.scripted import ScriptedService
from tests.ui.seed import T0, Seeder
from tui_scraper.domain import Progress, Status
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.widgets.analytics import AnalyticsView, bar, spark

from .seeding import seed_analytics


async def _open(pilot: Any, app: ScraperApp, session_id: str) -> SessionDetailScreen:
    await pilot.pause()
    app.show_detail(session_id)
    await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
    await pilot.press("4")
    screen = app.screen
    assert isinstance(screen, SessionDetailScreen)
    await until(pilot, lambda: screen.query_one(AnalyticsView).report is not None)
    await pilot.pause()
    return screen


async def test_key_4_shows_the_figures_and_hosts_literally(
    service: ScriptedService, seeder: Seeder
) -> None:
    record = await seeder.add("http://demo.test/", Status.COMPLETED, progress=Progress(done=5))
    seed_analytics(service.manager.store.db_path, record.id, T0 - 3000)
    app = make_app(service)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app, record.id)
        assert screen.query_one(TabbedContent).active == "analytics"
        report = screen.query_one(AnalyticsView).report
        assert report is not None and report.pages == 392
        text = screen_text(app)
        assert "Pages     392" in text and "Responses by class" in text
        assert "200: 367  404: 23  503: 8" in text and "HTTP 404" in text
        hosts = screen.query_one("#analytics-hosts", DataTable)
        shown = {str(hosts.get_row_at(i)[0]) for i in range(hosts.row_count)}
        # Markup in a host name is shown as typed; the bidi override is made visible.
        assert "[@click=app.quit]x\ufffd.test" in shown and "demo.test" in shown


async def test_a_session_without_figures_says_so(service: ScriptedService, seeder: Seeder) -> None:
    record = await seeder.add("http://demo.test/", Status.COMPLETED, progress=Progress(done=5))
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, app, record.id)
        assert "No figures yet" in screen_text(app)


async def test_a_running_session_refreshes_itself_with_queue_and_eta(
    service: ScriptedService, seeder: Seeder
) -> None:
    record = await seeder.add(
        "http://demo.test/",
        Status.RUNNING,
        progress=Progress(done=100, queued=600, pages_per_s=12.0, elapsed_s=40),
    )
    db = service.manager.store.db_path
    seed_analytics(db, record.id, T0 - 3000, pages=100)
    app = ScraperApp(service=service, sample_hz=20, clock=service.clock, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app, record.id)
        view = screen.query_one(AnalyticsView)
        assert view.report is not None and view.report.running
        assert view.report.eta_s == 50.0  # 600 queued at 12 pages/s
        assert "600 waiting  ETA 00:50" in screen_text(app)
        first = view.report.pages
        # A checkpoint of the crawl lands more rows: the tab shows them without a key press.
        seed_analytics(db, record.id, T0 - 2000, pages=50, seed=11)
        await until(pilot, lambda: view.report is not None and view.report.pages > first)


def test_sparklines_and_bars_fit_their_cells() -> None:
    assert spark([], 10) == ""
    assert spark([0, 0], 4) == "▁▁▁▁"
    assert spark([1, None, 8], 3) == "▁ █"
    assert spark([1, 8], 4) == "▁▁██"  # a short crawl spans the line
    assert len(spark(list(range(100)), 30)) == 30
    assert spark(list(range(100)), 30)[-1] == "█"
    assert bar(0, 10, 20) == "" and bar(1, 1000, 20) == "█" and bar(10, 10, 20) == "█" * 20
