"""A bounded table of the most recent pages, fed by repeated snapshots (dolphie pattern)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from rich.text import Text
from textual.coordinate import Coordinate

from tui_scraper.service import RecentPage

from ..text import display_safe, human_bytes, human_ms, safe_text, short_url
from .status import http_text, status_text
from .tables import FlexTable
from .tail import new_tail

MAX_ROWS = 50  # more than any screen shows; the full list is in the session detail


class RecentPagesTable(FlexTable):
    """Newest page at the bottom; the oldest rows fall off beyond `max_rows`."""

    DEFAULT_CSS = """
    RecentPagesTable {
        height: 1fr;
    }
    """

    def __init__(self, *, max_rows: int = MAX_ROWS, id: str | None = None) -> None:
        super().__init__(flex_column="title", id=id, cursor_type="row", zebra_stripes=True)
        self.max_rows = max_rows
        # The session's start URL: its own pages show as paths (as in the session detail).
        self.home: str | None = None
        self._shown: list[RecentPage] = []
        # The pages the rows show, top to bottom, and each one's cells.
        self._rows: list[RecentPage] = []
        self._cells: list[tuple[Text, ...]] = []
        self._ids = count()

    def on_mount(self) -> None:
        self.add_column("Code", key="code", width=4)
        self.add_column("State", key="state", width=7)
        self.add_column("URL", key="url", width=28)
        self.add_column("Title", key="title", width=10)
        self.add_column("Size", key="size", width=8)
        self.add_column("Time", key="time", width=7)

    def show(self, recent: Sequence[RecentPage]) -> None:
        fresh = new_tail(self._shown, recent)
        self._shown = list(recent)
        if not fresh:
            return
        # Follow the stream only when the user has not moved the cursor up to read a row.
        following = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        rows = (self._rows + fresh)[-self.max_rows :]
        # Each page's cells are built (and its text made safe) once, when it arrives.
        cells = (self._cells + [self._cells_of(page) for page in fresh])[-self.max_rows :]
        # Rows are added while there is room; once the table is full, the rows it has show the
        # pages that moved up into them, updated in place: the table keeps its rows (keys,
        # scroll offset, cursor), so only the cells on screen are drawn again, once. Removing a
        # row re-lays out the whole table (Textual #5273), and clearing it drew it twice, at
        # the top and then scrolled back down to the cursor.
        for index, (page, row) in enumerate(zip(rows, cells, strict=True)):
            if index >= self.row_count:
                self.add_row(*row, key=str(next(self._ids)))
            elif self._rows[index] != page:
                for column, cell in enumerate(row):
                    self.update_cell_at(Coordinate(index, column), cell)
        self._rows = rows
        self._cells = cells
        if following and self.cursor_row != self.row_count - 1:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def _cells_of(self, page: RecentPage) -> tuple[Text, ...]:
        url = short_url(display_safe(page.url), self.column_width("url"), home=self.home)
        return (
            http_text(page.http_status),
            status_text(page.status),
            Text(url, no_wrap=True),
            safe_text(page.title or ""),
            Text(human_bytes(page.size), justify="right"),
            Text(human_ms(page.elapsed_ms), justify="right"),
        )
