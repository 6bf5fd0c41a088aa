"""A bounded table of the most recent pages, fed by repeated snapshots (dolphie pattern)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from rich.text import Text

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
        if self.row_count + len(fresh) > self.max_rows:
            # Rebuild rather than trim: each remove_row re-lays out the whole table (Textual
            # #5273) and at a few hundred pages/s that cost the crawl half its throughput.
            self.clear()
            fresh = self._shown[-self.max_rows :]
        url_width = self.column_width("url")
        for page in fresh:
            url = short_url(display_safe(page.url), url_width, home=self.home)
            self.add_row(
                http_text(page.http_status),
                status_text(page.status),
                Text(url, no_wrap=True),
                safe_text(page.title or ""),
                Text(human_bytes(page.size), justify="right"),
                Text(human_ms(page.elapsed_ms), justify="right"),
                key=str(next(self._ids)),
            )
        if following:
            self.move_cursor(row=self.row_count - 1, animate=False)
