"""A bounded table of the most recent pages, fed by repeated snapshots (dolphie pattern)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from rich.segment import Segment
from rich.style import Style
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
        # Each shown cell's text as rendered for its width: (id, width) -> (cell, segments).
        self._rendered: dict[tuple[int, int], tuple[Text, list[Segment]]] = {}

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
        # Forget the renders of cells no longer shown (and of widths no longer used).
        shown = {id(cell) for row in cells for cell in row}
        self._rendered = {k: v for k, v in self._rendered.items() if k[0] in shown}
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

    # --- drawing: each cell's text rendered once, not at every redraw ---------------------

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """What DataTable draws for a cell, with the cell's own text rendered once per page.

        DataTable renders every visible cell again after any change to the table (its caches
        are keyed by a count of updates), through Padding and Styled for each one; the text of
        a page's cell never changes, so here it is rendered once for its width and only the
        styles of its place (row, stripe, cursor, hover) are applied at each redraw: the same
        segments (tests/ui/test_recent_pages_render.py compares them with DataTable's own)."""
        fast = (
            row_index >= self.fixed_rows
            and column_index >= self.fixed_columns
            and width > 2 * self.cell_padding
        )
        if fast:
            row_key = self._row_locations.get_key(row_index)
            row = self.rows.get(row_key) if row_key is not None else None
            fast = row is not None and row.height == 1
        cells = self._get_row_renderables(row_index).cells if fast else []
        cell = cells[column_index] if column_index < len(cells) else None
        if not isinstance(cell, Text):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre_style = (
            base_style + Style.from_meta({"row": row_index, "column": column_index})
        ) + component_style
        padding = Segment(" " * self.cell_padding) if self.cell_padding else None
        text = self._text_segments(cell, width - 2 * self.cell_padding)
        line = [padding, *text, padding] if padding is not None else text
        return [list(Segment.apply_style(line, pre_style, post_style))]

    def _text_segments(self, cell: Text, width: int) -> list[Segment]:
        """One line of `cell` at `width` cells, as Padding has DataTable render it."""
        key = (id(cell), width)
        found = self._rendered.get(key)
        if found is not None and found[0] is cell:
            return found[1]
        options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
        (segments,) = self.app.console.render_lines(cell, options, style=Style.null(), pad=True)
        self._rendered[key] = (cell, segments)
        return segments
