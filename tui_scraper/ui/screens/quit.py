"""Quit while crawls run in background workers: keep them crawling, pause them, or stop them.

The screen only asks. The choice is posted to the App (`QuitScreen.Chosen`), which sends the
commands and, for pause and stop, waits a few seconds for each session to leave `running`;
meanwhile the dialog says so (`waiting`) and takes no other answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from ..text import display_safe, short_url

QuitChoice = Literal["keep", "pause", "stop"]
# The most sessions listed one per line; more are counted.
LISTED = 8
TARGET_WIDTH = 50


@dataclass(frozen=True)
class BackgroundSession:
    """A session running in a worker process, as the dialog lists it."""

    session_id: str
    target_url: str

    @property
    def short_id(self) -> str:
        return self.session_id[:8]


class QuitScreen(ModalScreen[None]):
    """Keep crawling in the background (the default: focused, Enter), Pause, Stop; escape stays."""

    DEFAULT_CSS = """
    QuitScreen {
        align: center middle;
    }
    QuitScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    QuitScreen #quit-question, QuitScreen #quit-sessions, QuitScreen #quit-status {
        width: 100%;
        margin-bottom: 1;
    }
    QuitScreen Horizontal {
        height: auto;
        align-horizontal: right;
    }
    QuitScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "choose('keep')", "Keep crawling", id="quit.keep"),
        Binding("p", "choose('pause')", "Pause", id="quit.pause"),
        Binding("s", "choose('stop')", "Stop", id="quit.stop"),
        Binding("escape", "stay", "Stay", id="quit.stay"),
    ]

    class Chosen(Message):
        """The user chose how to quit; the App acts on it."""

        def __init__(self, screen: QuitScreen, choice: QuitChoice) -> None:
            super().__init__()
            self.screen = screen
            self.choice = choice

    def __init__(self, sessions: list[BackgroundSession]) -> None:
        super().__init__()
        self.sessions = list(sessions)
        self.choice: QuitChoice | None = None

    def compose(self) -> ComposeResult:
        count = len(self.sessions)
        with Vertical():
            yield Label(
                Content(
                    f"{count} crawl{'s run' if count != 1 else ' runs'} in the background. "
                    f"Quit and keep {'them' if count != 1 else 'it'} crawling (start the app "
                    "again to watch), or pause or stop first? Escape stays."
                ),
                id="quit-question",
            )
            yield Static(self._listing(), id="quit-sessions", markup=False)
            yield Label(Content(""), id="quit-status")
            with Horizontal():
                yield Button(
                    Content("Keep crawling in the background"), id="keep", variant="primary"
                )
                yield Button(Content("Pause"), id="pause")
                yield Button(Content("Stop"), id="stop", variant="warning")

    def _listing(self) -> Text:
        # Site text (the target URL) is display-safe and never parsed as markup.
        lines = [
            f"{s.short_id}  {short_url(display_safe(s.target_url), TARGET_WIDTH)}"
            for s in self.sessions[:LISTED]
        ]
        if len(self.sessions) > LISTED:
            lines.append(f"… and {len(self.sessions) - LISTED} more")
        return Text("\n".join(lines), no_wrap=True, overflow="ellipsis")

    def on_mount(self) -> None:
        # Enter keeps the crawls going: the answer that loses nothing and stops nothing.
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id in ("keep", "pause", "stop"):
            self.action_choose(event.button.id)

    def action_choose(self, choice: str) -> None:
        if self.choice is not None or choice not in ("keep", "pause", "stop"):
            return  # already answered: the App is acting on it
        self.choice = cast("QuitChoice", choice)
        self.post_message(self.Chosen(self, self.choice))

    def action_stay(self) -> None:
        if self.choice is None:
            self.dismiss(None)

    def waiting(self, text: str) -> None:
        """The App is pausing or stopping the crawls: say so, and take no other answer."""
        self.query_one("#quit-status", Label).update(Content(text))
        for button in self.query(Button):
            button.disabled = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("choose", "stay") and self.choice is not None:
            return None
        return True
