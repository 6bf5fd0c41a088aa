"""Ask where and how to export a session's pages, and run the export from the dialog.

The dialog stays open until the file is written: a bad path (missing folder, a directory, no
permission) is shown in the dialog, where it can be fixed, instead of a toast after it closed;
an existing file is overwritten only after a yes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from tui_scraper.domain import ScraperError

from ..text import display_safe, labelled
from .confirm import ConfirmScreen

FORMATS = ("jsonl", "csv", "warc")
SUFFIXES = {"jsonl": "jsonl", "csv": "csv", "warc": "warc.gz"}
Progress = Callable[[int, int], None]  # (pages done, pages in all), told as a long export goes
Exporter = Callable[[str, Path, Progress], Awaitable[int]]  # (format, path, …) -> rows; raises


class ExportScreen(ModalScreen[tuple[str, Path, int] | None]):
    """Dismisses with (format, path, rows) once written, or None when cancelled."""

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

    def __init__(
        self, session_id: str, target_url: str, directory: Path, exporter: Exporter
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.target_url = target_url
        self.directory = directory
        self.exporter = exporter
        self.busy = False

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
        return self.directory / f"session-{self.session_id[:8]}.{SUFFIXES[fmt]}"

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

    def show_error(self, message: str) -> None:
        # Messages quote the path typed (and OS errors): plain Content, sanitised.
        self.query_one("#export-error", Label).update(Content(display_safe(message)))

    def action_export(self) -> None:
        if self.busy:
            return
        value = self.query_one("#path", Input).value.strip()
        if not value:
            self.show_error("A file name is required")
            return
        fmt = str(self.query_one("#format", Select).value)
        path = Path(value).expanduser()
        self.busy = True
        self.run_worker(self._check_then_export(fmt, path), group="export", exit_on_error=False)

    async def _check_then_export(self, fmt: str, path: Path) -> None:
        # stat() can block on a slow or network file system: off the event loop.
        problem, exists = await asyncio.to_thread(_check_path, path)
        if problem:
            self.busy = False
            self.show_error(problem)
            self.query_one("#path", Input).focus()
            return
        if not exists:
            await self._export(fmt, path)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._export(fmt, path), group="export", exit_on_error=False)
            else:
                self.busy = False
                self.query_one("#path", Input).focus()

        self.app.push_screen(
            ConfirmScreen(
                Content(f"{display_safe(str(path))} exists. Overwrite it?"),
                yes="Overwrite",
                no="Keep it",
            ),
            answered,
        )

    async def _export(self, fmt: str, path: Path) -> None:
        self.show_error("")
        self.query_one("#export-error", Label).update(Content("Exporting…"))
        try:
            rows = await self.exporter(fmt, path, self._show_progress)
        except (ScraperError, OSError) as exc:
            self.busy = False
            self.show_error(f"Export failed: {exc}")
            self.query_one("#path", Input).focus()
            return
        self.dismiss((fmt, path, rows))

    def _show_progress(self, done: int, total: int) -> None:
        self.query_one("#export-error", Label).update(
            Content(f"Exporting… {done:,} of {total:,} pages")
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


def _check_path(path: Path) -> tuple[str | None, bool]:
    """(what is wrong with `path` as an export target, whether it exists already)."""
    if path.is_dir():
        return "That is a directory; give a file name", False
    if not path.parent.is_dir():
        return f"The folder {path.parent} does not exist", False
    return None, path.exists()
