"""Session detail: summary, status codes, timeline, filterable pages, page data, export."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static, TabbedContent

from tui_scraper.session import PageStatus, Status
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.export import ExportScreen

from .conftest import make_app, seeded
from .fakes import FakeManager
from .helpers import screen_text


async def _detail(pilot, app, manager: FakeManager) -> SessionDetailScreen:  # type: ignore[no-untyped-def]
    done = next(r for r in manager.sessions.values() if r.status is Status.COMPLETED)
    await pilot.pause()
    app.show_detail(done.id)
    await pilot.pause()
    await pilot.pause()
    assert isinstance(app.screen, SessionDetailScreen)
    return app.screen


async def test_summary_and_status_codes(manager: FakeManager) -> None:
    seeded(manager)
    app = make_app(manager)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _detail(pilot, app, manager)
        text = screen_text(app)
        assert "done 120" in text and "1.2 MB" in text and "p95 40 ms" in text
        codes = screen.query_one("#summary-codes", DataTable)
        assert [str(codes.get_row_at(i)[0]) for i in range(codes.row_count)] == [
            "200",
            "301",
            "404",
            "500",
        ]


async def test_tabs_by_number(manager: FakeManager) -> None:
    seeded(manager)
    app = make_app(manager)
    async with app.run_test() as pilot:
        screen = await _detail(pilot, app, manager)
        tabs = screen.query_one(TabbedContent)
        await pilot.press("3")
        assert tabs.active == "timeline"
        assert screen.query_one("#events-table", DataTable).row_count == 3
        await pilot.press("2")
        assert tabs.active == "pages"
        await pilot.press("1")
        assert tabs.active == "summary"


async def test_f_filters_pages_by_status(manager: FakeManager) -> None:
    seeded(manager)
    app = make_app(manager)
    async with app.run_test() as pilot:
        screen = await _detail(pilot, app, manager)
        table = screen.query_one("#pages-table", DataTable)
        assert table.row_count == 3
        await pilot.press("f")  # done
        await pilot.pause()
        assert screen.page_filter is PageStatus.DONE
        assert table.row_count == 1
        await pilot.press("f")  # failed
        await pilot.pause()
        assert table.row_count == 1
        assert "failed pages 1–1 of 1" in screen_text(app)


async def test_selected_page_shows_data_and_errors(manager: FakeManager) -> None:
    seeded(manager)
    app = make_app(manager)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _detail(pilot, app, manager)
        await pilot.press("2")
        await pilot.pause()
        detail = screen.query_one("#page-detail", Static)
        assert "h1" in str(detail.content) and "Demo" in str(detail.content)
        await pilot.press("down")
        await pilot.pause()
        assert "404 Not Found" in str(detail.content)


async def test_e_exports(manager: FakeManager, tmp_path: Path) -> None:
    seeded(manager)
    app = make_app(manager)
    app.export_dir = tmp_path
    async with app.run_test() as pilot:
        await _detail(pilot, app, manager)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#format").value = "csv"  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await app.workers.wait_for_complete()
        (call,) = [c for c in manager.calls if c[0] == "export"]
        assert call[1][1] == "csv"  # type: ignore[index]
        assert str(call[1][2]).endswith(".csv")  # type: ignore[index]


async def test_escape_goes_back(manager: FakeManager) -> None:
    seeded(manager)
    app = make_app(manager)
    async with app.run_test() as pilot:
        await _detail(pilot, app, manager)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SessionDetailScreen)
