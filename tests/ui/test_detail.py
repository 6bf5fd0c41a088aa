"""Session detail: summary, status codes, timeline, filterable pages, page data, export."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static, TabbedContent

from tui_scraper.domain import PageStatus, Status
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.detail import PAGE_SIZE, SessionDetailScreen
from tui_scraper.ui.screens.export import ExportScreen

from .conftest import make_app
from .helpers import screen_text, until
from .scripted import ScriptedService
from .seed import Seeder, seed_history


async def _detail(pilot, app, service: ScriptedService, seeder: Seeder) -> SessionDetailScreen:  # type: ignore[no-untyped-def]
    done = next(r for r in seeder.created if r.status is Status.COMPLETED)
    await pilot.pause()
    app.show_detail(done.id)
    await pilot.pause()
    await pilot.pause()
    assert isinstance(app.screen, SessionDetailScreen)
    return app.screen


async def test_summary_and_status_codes(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _detail(pilot, app, service, seeder)
        text = screen_text(app)
        assert "done 120" in text and "1.2 MB" in text and "p95 40 ms" in text
        codes = screen.query_one("#summary-codes", DataTable)
        assert [str(codes.get_row_at(i)[0]) for i in range(codes.row_count)] == [
            "200",
            "301",
            "404",
            "500",
        ]


async def test_tabs_by_number(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _detail(pilot, app, service, seeder)
        tabs = screen.query_one(TabbedContent)
        await pilot.press("3")
        assert tabs.active == "timeline"
        assert screen.query_one("#events-table", DataTable).row_count == 3
        await pilot.press("2")
        assert tabs.active == "pages"
        await pilot.press("1")
        assert tabs.active == "summary"


async def test_f_filters_pages_by_status(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _detail(pilot, app, service, seeder)
        table = screen.query_one("#pages-table", DataTable)
        assert table.row_count == 3
        await pilot.press("f")  # done
        await pilot.pause()
        assert screen.page_filter is PageStatus.DONE
        assert table.row_count == 1
        await pilot.press("f")  # failed
        await pilot.pause()
        assert table.row_count == 1
        assert "Failed pages: 1–1 of 1" in screen_text(app)


async def test_selected_page_shows_data_and_errors(
    service: ScriptedService, seeder: Seeder
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _detail(pilot, app, service, seeder)
        await pilot.press("2")
        await pilot.pause()
        detail = screen.query_one("#page-detail", Static)
        assert "h1" in str(detail.content) and "Demo" in str(detail.content)
        await pilot.press("down")
        await pilot.pause()
        assert "404 Not Found" in str(detail.content)


async def test_e_exports(service: ScriptedService, seeder: Seeder, tmp_path: Path) -> None:
    await seed_history(seeder)
    app = make_app(service)
    app.export_dir = tmp_path
    async with app.run_test() as pilot:
        await _detail(pilot, app, service, seeder)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#format").value = "csv"  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await app.workers.wait_for_complete()
        (call,) = [c for c in service.calls if c[0] == "export"]
        assert call[1][1] == "csv"  # type: ignore[index]
        assert str(call[1][2]).endswith(".csv")  # type: ignore[index]


async def test_escape_goes_back(service: ScriptedService, seeder: Seeder) -> None:
    await seed_history(seeder)
    app = make_app(service)
    async with app.run_test() as pilot:
        await _detail(pilot, app, service, seeder)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SessionDetailScreen)


async def _many(seeder: Seeder, n: int) -> str:
    def url(i: int) -> str:
        return f"http://127.0.0.1:41234/section/{i % 7}/article-{i:04d}.html"

    # The first article is the target: its row is the session's first, so page i has id i.
    record = await seeder.add(url(1), Status.COMPLETED)
    await seeder.add_pages(
        record.id,
        [
            (url(i), {"title": f"Article {i:04d}" + (" needle" if i % 100 == 0 else "")})
            for i in range(1, n + 1)
        ],
    )
    return record.id


async def _pages(pilot, app, session_id: str) -> SessionDetailScreen:  # type: ignore[no-untyped-def]
    await pilot.pause()
    app.show_detail(session_id)
    await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
    screen = app.screen
    await until(pilot, lambda: len(screen.pages) > 0)
    await pilot.press("2")
    await pilot.pause()
    return screen  # type: ignore[no-any-return]


def _urls(screen: SessionDetailScreen) -> list[str]:
    table = screen.query_one("#pages-table", DataTable)
    return [str(table.get_row_at(i)[2]) for i in range(table.row_count)]


async def test_pages_are_paged_through_without_a_cap(
    service: ScriptedService, seeder: Seeder
) -> None:
    sid = await _many(seeder, 1250)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _pages(pilot, app, sid)
        table = screen.query_one("#pages-table", DataTable)
        assert table.row_count == PAGE_SIZE
        assert "All pages: 1–200 of 1,250" in screen_text(app)
        for _ in range(6):  # to the last page, far past the old 500-row cap
            await pilot.press("right_square_bracket")
            await pilot.pause()
        await until(pilot, lambda: screen.pages and screen.pages[-1].id == 1250)
        assert table.row_count == 50
        assert "1201–1250 of 1,250" in screen_text(app)
        await pilot.press("right_square_bracket")  # no further page: says so, stays
        await pilot.pause()
        assert screen.pages[-1].id == 1250
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: screen.pages[0].id == 1001)
        # Every read is one bounded page: the store is never asked for the whole session.
        limits = [c[1][1] for c in service.calls if c[0] == "pages_after"]  # type: ignore[index]
        assert limits and max(limits) == PAGE_SIZE + 1


async def test_search_over_url_and_title(service: ScriptedService, seeder: Seeder) -> None:
    sid = await _many(seeder, 1250)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _pages(pilot, app, sid)
        await pilot.press("slash", *"needle")
        await until(pilot, lambda: len(screen.pages) == 12)
        assert all("needle" in (p.title or "") for p in screen.pages)
        # The query waits for a pause in the typing: not one full read per keystroke.
        searched = [c[1][2] for c in service.calls if c[0] == "pages_after" and c[1][2]]  # type: ignore[index]
        assert searched[-1] == "needle" and len(searched) < len("needle")
        await pilot.press("ctrl+a", "ctrl+k", *"article-0042")  # by URL
        await until(pilot, lambda: [p.id for p in screen.pages] == [42])
        await pilot.press("escape")  # closes the search, every page again
        await until(pilot, lambda: len(screen.pages) == PAGE_SIZE)
        assert isinstance(app.screen, SessionDetailScreen)


async def test_url_column_uses_the_width_and_shows_the_path_on_the_sessions_host(
    service: ScriptedService,
    seeder: Seeder,
) -> None:
    sid = await _many(seeder, 5)
    await seeder.add_page(sid, "https://other.example/elsewhere/x", title="Other host")
    widths = {}
    await service.close()  # each app below opens the data dir itself
    for size in ((80, 24), (120, 40)):
        app = ScraperApp(service.data_dir, sample_hz=None, clock=service.clock, cursor_blink=False)
        async with app.run_test(size=size) as pilot:
            screen = await _pages(pilot, app, sid)
            table = screen.query_one("#pages-table", DataTable)
            widths[size[0]] = table.columns["url"].width  # type: ignore[index]
            urls = _urls(screen)
            assert urls[0] == "/section/1/article-0001.html"  # same host: the path, in full
            assert urls[-1].startswith("other.example/")  # another host: host and path
            # the columns fill the table, none pushed off screen
            total = sum(c.width + 2 * table.cell_padding for c in table.columns.values())
            assert size[0] - 4 <= total <= size[0]
    assert widths[120] >= widths[80] + 25
