"""A bounded table of the most recent pages, fed by repeated snapshots (dolphie pattern)."""

from __future__ import annotations

from itertools import count

from rich.text import Text

from tui_scraper.crawl.stats import RecentPage

from ..text import human_bytes, human_ms, safe_text
from .status import http_text, status_text
from .tables import FlexTable
from .tail import new_tail

MAX_ROWS = 100


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
        self._shown: list[RecentPage] = []
        self._keys: list[str] = []
        self._ids = count()

    def on_mount(self) -> None:
        self.add_column("Code", key="code", width=4)
        self.add_column("State", key="state", width=7)
        self.add_column("URL", key="url", width=28)
        self.add_column("Title", key="title", width=10)
        self.add_column("Size", key="size", width=8)
        self.add_column("Time", key="time", width=7)

    def show(self, recent: list[RecentPage]) -> None:
        fresh = new_tail(self._shown, recent)
        self._shown = list(recent)
        if not fresh:
            return
        fresh = fresh[-self.max_rows :]
        # Follow the stream only when the user has not moved the cursor up to read a row.
        following = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        for page in fresh:
            key = str(next(self._ids))
            self.add_row(
                http_text(page.http_status),
                status_text(page.status),
                safe_text(page.url),
                safe_text(page.title or ""),
                Text(human_bytes(page.size), justify="right"),
                Text(human_ms(page.elapsed_ms), justify="right"),
                key=key,
            )
            self._keys.append(key)
        while len(self._keys) > self.max_rows:
            self.remove_row(self._keys.pop(0))
        if following:
            self.move_cursor(row=self.row_count - 1, animate=False)
