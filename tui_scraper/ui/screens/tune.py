"""Live tuning of a running crawl: rate, concurrency and exclude patterns, as a modal form.

Prefilled from the session's stored config (a worker keeps every change there). Only the
fields that differ from it are sent, as a `domain.tuning.Tuning`, whose construction is the
validation: its ConfigError names the field, shown beside it as in the new-session form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea

from tui_scraper.domain import ConfigError, CrawlConfig, ScraperError
from tui_scraper.domain.config import BOUNDS
from tui_scraper.service import CommandDelivery, Tuning

from ..text import display_safe

if TYPE_CHECKING:
    from ..host import ScraperHost

# form field -> label; the ConfigError fields of Tuning are these names.
FIELDS = {"rate": "Rate per host/s", "concurrency": "Concurrency", "exclude": "Exclude regex"}
TuneResult = tuple[Tuning, CommandDelivery]


def _rate(text: str, before: float | None) -> float | None:
    text = text.strip()
    if not text:
        if before is None:
            return None
        low, high = BOUNDS["rate"]
        raise ConfigError(
            "rate", f"a running crawl's limit can be changed, not removed: {low:g} to {high:g}"
        )
    try:
        value = float(text)
    except ValueError:
        raise ConfigError("rate", "must be a number of requests per second") from None
    return value


def _concurrency(text: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"[+]?\d+", text):
        raise ConfigError("concurrency", "must be a whole number")
    return int(text)


def _patterns(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def tuning_from_form(rate: str, concurrency: str, exclude: str, config: CrawlConfig) -> Tuning:
    """The fields that differ from `config`, as a Tuning; ConfigError names the bad field
    (`set` when nothing changed)."""
    new_rate = _rate(rate, config.rate_per_host)
    new_concurrency = _concurrency(concurrency)
    new_exclude = _patterns(exclude)
    return Tuning(
        rate=new_rate if new_rate != config.rate_per_host else None,
        concurrency=new_concurrency if new_concurrency != config.concurrency else None,
        exclude=new_exclude if new_exclude != tuple(config.exclude) else None,
    )


class TuneScreen(ModalScreen[TuneResult | None]):
    """Dismisses with the Tuning sent and how it was delivered, or None (escape)."""

    DEFAULT_CSS = """
    TuneScreen {
        align: center middle;
    }
    TuneScreen > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    TuneScreen #tune-title {
        width: 100%;
        text-style: bold;
    }
    TuneScreen .field {
        height: auto;
    }
    TuneScreen .field-label {
        width: 16;
        padding: 0 1 0 0;
        text-align: right;
        color: $text-muted;
    }
    TuneScreen .field.-invalid .field-label {
        color: $error;
        text-style: bold;
    }
    TuneScreen .field-input {
        width: 1fr;
        height: auto;
    }
    TuneScreen TextArea {
        height: 4;
    }
    TuneScreen .field-hint {
        width: 100%;
        color: $text-muted;
        padding: 0 1;
    }
    TuneScreen .field-error, TuneScreen #tune-error {
        width: 100%;
        display: none;
        color: $error;
        padding: 0 1;
    }
    TuneScreen .field-error.-shown, TuneScreen #tune-error.-shown {
        display: block;
    }
    TuneScreen #tune-buttons {
        height: auto;
        align-horizontal: right;
    }
    TuneScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", priority=True, id="tune.send"),
        Binding("escape", "cancel", "Cancel", id="tune.cancel"),
    ]

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.config: CrawlConfig | None = None
        self.sending = False

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                Content(f"Tune session {self.session_id[:8]} while it runs"), id="tune-title"
            )
            yield Label(Content(""), id="tune-error")
            yield from self._row("rate", Input("", placeholder="no limit", compact=True))
            yield from self._row("concurrency", Input("", compact=True))
            yield from self._row(
                "exclude", TextArea("", soft_wrap=False, tab_behavior="focus", compact=True)
            )
            with Horizontal(id="tune-buttons"):
                yield Button(Content("Send"), id="send", variant="primary", compact=True)
                yield Button(Content("Cancel"), id="cancel", compact=True)

    def _row(self, field: str, widget: Input | TextArea) -> ComposeResult:
        widget.id = f"t-{field}"
        widget.disabled = True  # until the session's config is read
        with Horizontal(classes="field", id=f"trow-{field}"):
            yield Label(Content(FIELDS[field]), classes="field-label")
            with Vertical(classes="field-input"):
                yield widget
                if field == "exclude":
                    yield Label(Content("one regex per line"), classes="field-hint")
                yield Label(Content(""), id=f"terr-{field}", classes="field-error")

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = self.scraper.cursor_blink
        self.query_one(TextArea).cursor_blink = self.scraper.cursor_blink
        self.run_worker(self._prefill, group="tune-read", exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _prefill(self) -> None:
        try:
            record = await self.scraper.service.get(self.session_id)
        except ScraperError as exc:
            self.show_error(str(exc))
            return
        config = record.config
        self.config = config
        rate = "" if config.rate_per_host is None else f"{config.rate_per_host:g}"
        self.query_one("#t-rate", Input).value = rate
        self.query_one("#t-concurrency", Input).value = str(config.concurrency)
        self.query_one("#t-exclude", TextArea).text = "\n".join(config.exclude)
        for widget in (*self.query(Input), self.query_one(TextArea)):
            widget.disabled = False
        self.query_one("#t-rate", Input).focus()

    # --- values and messages --------------------------------------------------------------

    def values(self) -> dict[str, str]:
        return {
            "rate": self.query_one("#t-rate", Input).value,
            "concurrency": self.query_one("#t-concurrency", Input).value,
            "exclude": self.query_one("#t-exclude", TextArea).text,
        }

    def set_error(self, field: str, message: str | None) -> None:
        label = self.query_one(f"#terr-{field}", Label)
        # A message may quote a pattern that was typed: plain Content, sanitised.
        label.update(Content(display_safe(message or "")))
        label.set_class(bool(message), "-shown")
        self.query_one(f"#trow-{field}").set_class(bool(message), "-invalid")

    def errors(self) -> dict[str, str]:
        return {
            field: str(self.query_one(f"#terr-{field}", Label).content)
            for field in FIELDS
            if self.query_one(f"#terr-{field}", Label).has_class("-shown")
        }

    def show_error(self, message: str | None) -> None:
        label = self.query_one("#tune-error", Label)
        label.update(Content(display_safe(message or "")))
        label.set_class(bool(message), "-shown")

    # --- actions --------------------------------------------------------------------------

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "send":
            self.action_send()
        else:
            self.action_cancel()

    def action_send(self) -> None:
        if self.sending or self.config is None:
            return
        values = self.values()
        for field in FIELDS:
            self.set_error(field, None)
        self.show_error(None)
        try:
            tuning = tuning_from_form(
                values["rate"], values["concurrency"], values["exclude"], self.config
            )
        except ConfigError as exc:
            if exc.field in FIELDS:
                self.set_error(exc.field, exc.message)
                self.query_one(f"#t-{exc.field}").focus()
            else:  # nothing changed
                self.show_error("Nothing to send: change the rate, concurrency or excludes")
            return
        self.sending = True
        self.run_worker(self._send(tuning), group="tune-send", exit_on_error=False)

    async def _send(self, tuning: Tuning) -> None:
        try:
            delivery = await self.scraper.service.tune(self.session_id, tuning)
        except ConfigError as exc:
            self.sending = False
            if exc.field in FIELDS:
                self.set_error(exc.field, exc.message)
            else:
                self.show_error(str(exc))
            return
        except ScraperError as exc:
            # Refused (not running any more, a worker without live tuning): said, and the form
            # stays so it can be changed or closed.
            self.sending = False
            self.show_error(str(exc))
            self.scraper.say(str(exc), severity="warning")
            return
        self.dismiss((tuning, delivery))

    def action_cancel(self) -> None:
        self.dismiss(None)
