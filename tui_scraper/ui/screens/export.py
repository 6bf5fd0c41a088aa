"""Ask where and how to export a session's pages."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from ..text import labelled

FORMATS = ("jsonl", "csv")


class ExportScreen(ModalScreen[tuple[str, Path] | None]):
    """Dismisses with (format, path), or None when cancelled."""

    DEFAULT_CSS = """
    ExportScreen {
        align: center middle;
    }
    ExportScreen > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    ExportScreen Label {
        margin-top: 1;
    }
    ExportScreen #export-error {
        color: $error;
        margin-top: 0;
    }
    ExportScreen Horizontal {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    ExportScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
        Binding("ctrl+s", "export", "Export", id="export.run"),
    ]

    def __init__(self, session_id: str, target_url: str, directory: Path) -> None:
        super().__init__()
        self.session_id = session_id
        self.target_url = target_url
        self.directory = directory

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(labelled(("Export pages of ", "bold"), self.target_url))
            yield Label(Content("Format"))
            yield Select(
                [(Content(f), f) for f in FORMATS], value="jsonl", allow_blank=False, id="format"
            )
            yield Label(Content("File"))
            yield Input(value=str(self._default_path("jsonl")), id="path")
            yield Label(Content(""), id="export-error")
            with Horizontal():
                yield Button(Content("Export"), id="do-export", variant="primary")
                yield Button(Content("Cancel"), id="cancel")

    def _default_path(self, fmt: str) -> Path:
        return self.directory / f"session-{self.session_id[:8]}.{fmt}"

    def on_mount(self) -> None:
        self.query_one("#path", Input).cursor_blink = getattr(self.app, "cursor_blink", True)
        self.query_one("#path", Input).focus()

    @on(Select.Changed, "#format")
    def _format_changed(self, event: Select.Changed) -> None:
        # Keep the file extension in step with the format while the name is still ours.
        path_input = self.query_one("#path", Input)
        for fmt in FORMATS:
            if path_input.value == str(self._default_path(fmt)):
                path_input.value = str(self._default_path(str(event.value)))
                break

    @on(Input.Submitted, "#path")
    def _submitted(self) -> None:
        self.action_export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "do-export":
            self.action_export()
        else:
            self.dismiss(None)

    def action_export(self) -> None:
        value = self.query_one("#path", Input).value.strip()
        error = self.query_one("#export-error", Label)
        if not value:
            error.update(Content("A file name is required"))
            return
        path = Path(value).expanduser()
        if path.is_dir():
            error.update(Content("That is a directory; give a file name"))
            return
        fmt = str(self.query_one("#format", Select).value)
        self.dismiss((fmt, path))

    def action_cancel(self) -> None:
        self.dismiss(None)
