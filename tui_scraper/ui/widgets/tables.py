"""DataTable with one flexible column that takes the width the fixed columns leave."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable

SCROLLBAR = 2  # room kept for the vertical scrollbar so the flex column is never clipped
MIN_FLEX = 10


class FlexTable(DataTable[Text]):
    """Give `flex_column` all the width not used by the other (fixed-width) columns.

    DataTable sizes an auto column from its content, so a long URL pushes the right-hand
    columns off an 80-column screen (and an empty table shows one character of a header).
    """

    def __init__(self, *, flex_column: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.flex_column = flex_column

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns(event.size.width)

    def fit_columns(self, width: int | None = None) -> None:
        width = self.size.width if width is None else width
        if not width or not self.columns:
            return
        padding = 2 * self.cell_padding
        fixed = sum(
            col.width + padding for key, col in self.columns.items() if key != self.flex_column
        )
        flex = self.columns.get(self.flex_column)  # type: ignore[call-overload]
        if flex is None:
            return
        new = max(MIN_FLEX, width - fixed - padding - SCROLLBAR)
        if flex.width != new or flex.auto_width:
            flex.width = new
            flex.auto_width = False
            # No public API re-lays out a column width; this is what add_column sets.
            self._require_update_dimensions = True
            self.refresh()
