"""The keys of the screen underneath, as a modal: `?` or F1 opens it, Escape closes it.

The list is read from that screen's live bindings (the same source as the footer), so it can
never drift from what the keys really do; disabled keys are listed too, dimmed, with the
reason the screen gives for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

KeyRow = tuple[str, str, bool, str]  # key shown, description, enabled, why disabled


def key_rows(screen: Screen[object], why_disabled: Callable[[str], str | None]) -> list[KeyRow]:
    """(key, description, enabled, reason) for every described binding active on `screen`."""
    rows: list[KeyRow] = []
    seen: set[tuple[str, str]] = set()
    bindings = screen.active_bindings.items()
    # The screen's and the app's keys, and the ones our widgets declare (they carry an id);
    # the cursor keys of Textual's own widgets are left out: they would bury the rest.
    ours = [
        (key, active)
        for key, active in bindings
        if active.node is screen or active.node is screen.app or active.binding.id
    ]
    ours.sort(key=lambda item: item[1].node is screen.app)  # the screen's own first
    for key, active in ours:
        binding = active.binding
        if not binding.description or binding.system:
            continue
        shown = screen.app.get_key_display(binding) or key
        if (binding.action, binding.description) in seen:
            continue  # one binding, several keys (e.g. "?,f1"): listed once
        seen.add((binding.action, binding.description))
        reason = "" if active.enabled else why_disabled(binding.action) or ""
        rows.append((shown, binding.description, active.enabled, reason))
    return rows


class KeyHelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    KeyHelpScreen {
        align: center middle;
    }
    KeyHelpScreen > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    KeyHelpScreen #help-title {
        text-style: bold;
        width: 100%;
    }
    KeyHelpScreen VerticalScroll {
        height: auto;
        max-height: 1fr;
    }
    KeyHelpScreen #help-keys {
        width: 100%;
    }
    KeyHelpScreen #help-foot {
        color: $text-muted;
        width: 100%;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, title: str, rows: list[KeyRow]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        # A grid, so a long reason wraps under its description, not under the keys. Cells are
        # rich Text (never parsed as markup), though every string here is the app's own.
        grid = Table.grid(padding=(0, 2), expand=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(ratio=1)
        for key, description, enabled, reason in self.rows:
            text = Text(description, style="" if enabled else "dim")
            if reason:
                text.append(f" — {reason}", style="dim italic")
            grid.add_row(Text(key, style="bold" if enabled else "dim"), text)
        body: Table | Content = grid if self.rows else Content("No keys on this screen.")
        with Vertical():
            yield Label(Content(f"Keys: {self.title_text}"), id="help-title")
            with VerticalScroll():
                yield Static(body, id="help-keys")
            yield Label(
                Content("ctrl+p: every action (command palette).  Escape closes this."),
                id="help-foot",
            )

    def action_close(self) -> None:
        self.dismiss(None)
