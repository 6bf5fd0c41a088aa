"""The recent-pages table draws each cell as DataTable itself would, segment for segment: its
own path renders a page's text once and only restyles it at each redraw (DataTable renders
every visible cell again after any change), so it must never show anything else."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tui_scraper.service.remote import WireRecentPage as RecentPage
from tui_scraper.ui.widgets.recent_pages import RecentPagesTable

T0 = 1_700_000_000.0
PAGES = [
    RecentPage("http://demo.test/", "done", 200, "Home", 1234, 12.0, T0),
    RecentPage("http://demo.test/" + "deep/" * 30, "failed", 404, "Gone " * 20, None, None, T0),
    RecentPage("http://demo.test/wide", "retry", 503, "全角の題名と絵文字 🎉", 10**9, 30_000.0, T0),
    RecentPage("http://demo.test/empty", "skipped", None, "", 0, 0.0, T0),
    RecentPage("http://demo.test/ctl", "done", 301, "a\tb\x1b[2Jc", 5, 1.5, T0),
]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RecentPagesTable(id="recent")


def _both(table: RecentPagesTable, row: int, column: int, style: Style, width: int, **flags: bool):  # type: ignore[no-untyped-def]
    ours = table._render_cell(row, column, style, width, **flags)
    theirs = DataTable._render_cell(table, row, column, style, width, **flags)
    return ours, theirs


async def test_every_cell_is_drawn_as_datatable_draws_it() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(RecentPagesTable)
        table.home = "http://demo.test/"
        table.show(PAGES)
        await pilot.pause()
        table.move_cursor(row=2)
        await pilot.pause()
        compared = 0
        for row in range(table.row_count):
            for column, key in enumerate(table.columns):
                width = table.columns[key].get_render_width(table)
                for style in (Style(), Style(bgcolor="grey11"), Style(color="red", bold=True)):
                    for flags in ({}, {"cursor": True}, {"hover": True}):
                        ours, theirs = _both(table, row, column, style, width, **flags)
                        assert ours == theirs, (row, key, style, flags)
                        compared += 1
        assert compared == len(PAGES) * len(table.columns) * 9
        # every cell took the table's own path (none fell back to DataTable's)
        assert len(table._rendered) == len(PAGES) * len(table.columns)


async def test_a_cell_is_rendered_once_however_often_the_table_is_drawn() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(RecentPagesTable)
        table.show(PAGES[:2])
        await pilot.pause()
        rendered: list[Text] = []
        real = table.app.console.render_lines

        def spy(renderable, *args, **kwargs):  # type: ignore[no-untyped-def]
            if any(renderable is cell for cells in table._cells for cell in cells):
                rendered.append(renderable)  # a page's cell (not a header's)
            return real(renderable, *args, **kwargs)

        table.app.console.render_lines = spy  # type: ignore[method-assign]
        try:
            table._rendered.clear()
            table._clear_caches()
            table.refresh()
            await pilot.pause()
            first = len(rendered)
            assert first == 2 * len(table.columns)  # each page's cells once
            table.show(PAGES[:3])  # a new page: the table redraws every row
            await pilot.pause()
            assert len(rendered) == first + len(table.columns)  # only the new page's cells
        finally:
            del table.app.console.render_lines
