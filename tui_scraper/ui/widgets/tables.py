"""DataTable whose flexible columns share the width the fixed columns leave."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import DataTable

SCROLLBAR = 2  # room kept for the vertical scrollbar so the flex column is never clipped
MIN_FLEX = 10


class FlexTable(DataTable[Text]):
    """Give the flex columns all the width not used by the other (fixed-width) columns.

    DataTable sizes an auto column from its content, so a long URL pushes the right-hand
    columns off an 80-column screen (and an empty table shows one character of a header).
    `flex_column` names one column; `flex` gives several, each with a weight.
    """

    class Fitted(Message):
        """The flex columns changed width: cells shortened to fit may be rebuilt."""

        def __init__(self, table: FlexTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> FlexTable:
            return self.table

    def __init__(
        self,
        *,
        flex_column: str | None = None,
        flex: dict[str, int] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.flex = dict(flex or {})
        if flex_column is not None:
            self.flex.setdefault(flex_column, 1)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns(event.size.width)

    def column_width(self, key: str) -> int:
        column = self.columns.get(key)  # type: ignore[call-overload]
        return int(column.width) if column is not None else MIN_FLEX

    def fit_columns(self, width: int | None = None) -> None:
        width = self.size.width if width is None else width
        if not width or not self.columns:
            return
        padding = 2 * self.cell_padding
        flex = {k: w for k, w in self.flex.items() if k in self.columns}
        if not flex:
            return
        fixed = sum(col.width + padding for key, col in self.columns.items() if key not in flex)
        spare = max(MIN_FLEX * len(flex), width - fixed - padding * len(flex) - SCROLLBAR)
        total = sum(flex.values())
        changed = False
        given = 0
        for index, (key, weight) in enumerate(flex.items()):
            last = index == len(flex) - 1
            new = spare - given if last else spare * weight // total
            new = max(MIN_FLEX, new)
            given += new
            column = self.columns[key]  # type: ignore[index]
            if column.width != new or column.auto_width:
                column.width = new
                column.auto_width = False
                changed = True
        if changed:
            # No public API re-lays out a column width; this is what add_column sets.
            self._require_update_dimensions = True
            self.refresh()
            self.post_message(self.Fitted(self))
