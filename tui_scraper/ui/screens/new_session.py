"""The new-session form: every crawl option, validated as you type and again on submit.

Validation reuses `CrawlConfig.validate()` (the same rules as the CLI), so the form can never
accept what the engine would refuse; invalid input never reaches `manager.create`. Headers and
cookies are secrets: masked fields, passed to `manager.create(secret_headers=...)`, which keeps
their values out of the database (as `--header`/`--cookie` do).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Select, TextArea

from tui_scraper.domain import ConfigError, CrawlConfig, ExtractRule
from tui_scraper.domain.config import DEFAULT_USER_AGENT, SCOPES, validate_url

from .. import messages
from ..text import display_safe
from .confirm import ConfirmScreen

if TYPE_CHECKING:
    from ..host import ScraperHost

# form field id -> (label, ConfigError.field names that belong to it)
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "url": ("Start URL", ("url",)),
    "max_pages": ("Max pages", ("max-pages",)),
    "max_depth": ("Max depth", ("max-depth",)),
    "concurrency": ("Concurrency", ("concurrency",)),
    "per_host": ("Per host", ("per-host",)),
    "rate": ("Rate per host/s", ("rate",)),
    "scope": ("Scope", ("scope",)),
    "include": ("Include regex", ("include",)),
    "exclude": ("Exclude regex", ("exclude",)),
    "robots": ("robots.txt", ("robots",)),
    "extract": ("Extract rules", ("extract",)),
    "download": ("Download types", ("download",)),
    "retries": ("Retries", ("retries",)),
    "timeout": ("Timeout (s)", ("timeout",)),
    "max_body": ("Max body (bytes)", ("max-body",)),
    "user_agent": ("User-Agent", ("user-agent",)),
    "private": ("Private hosts", ("allow-private",)),
    "headers": ("Secret headers", ("headers",)),
    "cookies": ("Cookies", ("cookies",)),
}
SECRET_FIELDS = ("headers", "cookies")  # not CrawlConfig options: see parse_secrets
_FIELD_OF_ERROR = {name: fid for fid, (_, names) in FIELDS.items() for name in names}
PLACEHOLDER_URL = "http://example.invalid/"  # lets one field be validated on its own
_D = CrawlConfig(target_url=PLACEHOLDER_URL)
# What a field holds before it is touched: the engine's own defaults, so the form and the CLI
# start from the same crawl.
DEFAULTS: dict[str, str | bool] = {
    "concurrency": str(_D.concurrency),
    "per_host": str(_D.per_host_concurrency),
    "scope": _D.scope,
    "robots": _D.respect_robots,
    "retries": str(_D.retries),
    "timeout": f"{_D.request_timeout:g}",
    "max_body": str(_D.max_body_bytes),
    "private": _D.allow_private,
}


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _int(field: str, text: str, *, optional: bool) -> int | None:
    text = text.strip()
    if not text and optional:
        return None
    if not re.fullmatch(r"[+]?\d+", text):
        raise ConfigError(field, "must be a whole number" + (" (or empty)" if optional else ""))
    return int(text)


def _float(
    field: str, text: str, what: str = "a number of requests per second (or empty)"
) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(field, f"must be {what}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(field, "must be a finite number")
    return value


def normalize_url(text: str) -> str:
    """What people type → what they mean: `example.org` → `https://example.org/`.

    Only a missing scheme (https assumed, as browsers do) and a missing path are filled in;
    anything else is left for `validate_url` to judge, so `ftp://x` is still refused.
    """
    text = text.strip()
    if not text:
        return text
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        text = "https://" + text.lstrip("/")
    scheme, sep, rest = text.partition("://")
    if scheme.lower() in ("http", "https") and rest and not re.search(r"[/?#]", rest):
        text = f"{scheme}{sep}{rest}/"
    return text


def parse_secrets(headers: str, cookies: str) -> dict[str, str]:
    """The masked fields → secret headers, with the CLI's rules; raises ConfigError.

    Headers are `NAME: VALUE` entries separated by ` | ` (a one-line field, and header values
    may contain `;` or `,`); cookies are the usual `name=value; name2=value2`.
    """
    out: dict[str, str] = {}
    for spec in (p for p in re.split(r"\n| \| ", headers) if p.strip()):
        name, sep, value = spec.partition(":")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name) or not value.strip():
            raise ConfigError("headers", "each entry must be NAME: VALUE (N: V | N2: V2)")
        out[name] = value.strip()
    jar = []
    for spec in (p.strip() for p in cookies.split(";") if p.strip()):
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or any(c in spec for c in "\r\n"):
            raise ConfigError("cookies", "expected NAME=VALUE; NAME2=VALUE2")
        jar.append(f"{name.strip()}={value.strip()}")
    if jar:
        out["Cookie"] = "; ".join(jar)
    return out


def parse_field(field_id: str, raw: str | bool) -> dict[str, object]:
    """One form field → CrawlConfig keyword arguments; raises ConfigError for bad text."""
    text = raw if isinstance(raw, str) else ""
    if field_id == "url":
        return {"target_url": normalize_url(text)}
    if field_id == "max_pages":
        return {"max_pages": _int("max-pages", text, optional=True)}
    if field_id == "max_depth":
        return {"max_depth": _int("max-depth", text, optional=True)}
    if field_id == "concurrency":
        return {"concurrency": _int("concurrency", text, optional=False)}
    if field_id == "per_host":
        return {"per_host_concurrency": _int("per-host", text, optional=False)}
    if field_id == "rate":
        return {"rate_per_host": _float("rate", text)}
    if field_id == "scope":
        return {"scope": text}
    if field_id == "include":
        return {"include": _lines(text)}
    if field_id == "exclude":
        return {"exclude": _lines(text)}
    if field_id == "robots":
        return {"respect_robots": bool(raw)}
    if field_id == "extract":
        return {"extract": tuple(ExtractRule.parse(line) for line in _lines(text))}
    if field_id == "download":
        return {"download": tuple(t for t in re.split(r"[\s,]+", text) if t)}
    if field_id == "retries":
        return {"retries": _int("retries", text, optional=False)}
    if field_id == "timeout":
        value = _float("timeout", text, "a number of seconds")
        if value is None:
            raise ConfigError("timeout", "must be a number of seconds")
        return {"request_timeout": value}
    if field_id == "max_body":
        return {"max_body_bytes": _int("max-body", text, optional=False)}
    if field_id == "user_agent":
        agent = text.strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in agent):
            raise ConfigError("user-agent", "must be one line of printable text")
        return {"user_agent": agent or DEFAULT_USER_AGENT}
    if field_id == "private":
        return {"allow_private": bool(raw)}
    raise KeyError(field_id)


def check_field(field_id: str, raw: str | bool) -> str | None:
    """The message for one field on its own, or None when it is fine."""
    try:
        if field_id in SECRET_FIELDS:
            text = raw if isinstance(raw, str) else ""
            parse_secrets(text, "") if field_id == "headers" else parse_secrets("", text)
            return None
        kwargs = parse_field(field_id, raw)
        if field_id == "url":
            if kwargs["target_url"]:
                validate_url(str(kwargs["target_url"]))
            return None
        config = CrawlConfig(target_url=PLACEHOLDER_URL, **kwargs)  # type: ignore[arg-type]
        # per-host must not exceed concurrency only matters together; validate() is per field.
        config.validate()
    except ConfigError as exc:
        return exc.message
    return None


def build_config(values: dict[str, str | bool]) -> CrawlConfig:
    """Every field → a validated CrawlConfig; raises ConfigError naming the first bad field."""
    kwargs: dict[str, object] = {}
    for field_id in FIELDS:
        if field_id in SECRET_FIELDS:
            continue
        kwargs.update(parse_field(field_id, values.get(field_id, DEFAULTS.get(field_id, ""))))
    return CrawlConfig(**kwargs).validate()  # type: ignore[arg-type]


class NewSessionScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "start", "Start", priority=True, id="new.start"),
        Binding("escape", "cancel", "Cancel", id="new.cancel"),
    ]
    # Integer fields are plain text fields on purpose: Input(type="integer") drops the "." of
    # "1.5" as it is typed and the field silently reads 15; here "1.5" is an error.

    def __init__(self, initial_url: str = "") -> None:
        super().__init__()
        self.initial_url = initial_url
        self.submitting = False
        self._pristine: dict[str, str | bool] = {}

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="form"):
            yield Label(Content(""), id="form-error")
            yield from self._row(
                "url", Input(self.initial_url, placeholder="https://example.org/", compact=True)
            )
            yield from self._row("max_pages", Input("", placeholder="no limit", compact=True))
            yield from self._row("max_depth", Input("", placeholder="no limit", compact=True))
            yield from self._row("concurrency", Input(str(DEFAULTS["concurrency"]), compact=True))
            yield from self._row("per_host", Input(str(DEFAULTS["per_host"]), compact=True))
            yield from self._row("rate", Input("", placeholder="no limit, e.g. 2.5", compact=True))
            yield from self._row(
                "scope",
                Select(
                    [(Content(s), s) for s in SCOPES], value="host", allow_blank=False, compact=True
                ),
            )
            yield from self._row(
                "include", TextArea("", soft_wrap=False, tab_behavior="focus", compact=True)
            )
            yield from self._row(
                "exclude", TextArea("", soft_wrap=False, tab_behavior="focus", compact=True)
            )
            yield from self._row(
                "robots", Checkbox(Content("respect robots.txt"), value=True, compact=True)
            )
            yield from self._row(
                "extract", TextArea("", soft_wrap=False, tab_behavior="focus", compact=True)
            )
            yield from self._row(
                "download",
                Input("", placeholder="none, e.g. application/pdf image/*", compact=True),
            )
            yield from self._row("retries", Input(str(DEFAULTS["retries"]), compact=True))
            yield from self._row("timeout", Input(str(DEFAULTS["timeout"]), compact=True))
            yield from self._row("max_body", Input(str(DEFAULTS["max_body"]), compact=True))
            yield from self._row(
                "user_agent", Input("", placeholder=DEFAULT_USER_AGENT, compact=True)
            )
            yield from self._row(
                "private",
                Checkbox(Content("allow private and loopback addresses"), compact=True),
            )
            yield from self._row(
                "headers", Input("", placeholder="none", password=True, compact=True)
            )
            yield from self._row(
                "cookies", Input("", placeholder="none", password=True, compact=True)
            )
            with Horizontal(id="form-buttons"):
                yield Button(Content("Start crawl"), id="start", variant="primary", compact=True)
                yield Button(Content("Cancel"), id="cancel", compact=True)
        yield Footer()

    def _row(self, field_id: str, widget: Widget) -> ComposeResult:
        label, _ = FIELDS[field_id]
        widget.id = f"f-{field_id}"
        with Horizontal(classes="field", id=f"row-{field_id}"):
            yield Label(Content(label), classes="field-label")
            with Vertical(classes="field-input"):
                yield widget
                if field_id in _HINTS:
                    yield Label(Content(_HINTS[field_id]), classes="field-hint")
                yield Label(Content(""), id=f"err-{field_id}", classes="field-error")

    def on_mount(self) -> None:
        self.sub_title = "New session"
        for box in self.query(Input):
            box.cursor_blink = self.scraper.cursor_blink
        for area in self.query(TextArea):
            area.cursor_blink = self.scraper.cursor_blink
        self.query_one("#f-url", Input).focus()
        self._pristine = self.values()

    # --- values and messages --------------------------------------------------------------

    def values(self) -> dict[str, str | bool]:
        out: dict[str, str | bool] = {}
        for field_id in FIELDS:
            widget = self.query_one(f"#f-{field_id}")
            if isinstance(widget, Input):
                out[field_id] = widget.value
            elif isinstance(widget, TextArea):
                out[field_id] = widget.text
            elif isinstance(widget, Checkbox):
                out[field_id] = widget.value
            elif isinstance(widget, Select):
                out[field_id] = str(widget.value)
        return out

    def set_error(self, field_id: str, message: str | None) -> None:
        label = self.query_one(f"#err-{field_id}", Label)
        # Messages may quote what was typed (a regex, a URL): plain Content, sanitised.
        label.update(Content(display_safe(message or "")))
        label.set_class(bool(message), "-shown")
        self.query_one(f"#row-{field_id}").set_class(bool(message), "-invalid")

    def errors(self) -> dict[str, str]:
        return {
            fid: str(self.query_one(f"#err-{fid}", Label).content)
            for fid in FIELDS
            if self.query_one(f"#err-{fid}", Label).has_class("-shown")
        }

    def show_config_error(self, exc: ConfigError) -> None:
        """Put a ConfigError (from the form or from manager.create) next to its field."""
        self.submitting = False
        field_id = _FIELD_OF_ERROR.get(exc.field)
        if field_id is None:
            self.query_one("#form-error", Label).update(Content(display_safe(str(exc))))
            self.query_one("#form-error", Label).add_class("-shown")
            return
        self.set_error(field_id, exc.message)
        self.query_one(f"#f-{field_id}").focus()

    def _field_of(self, widget: Widget | None) -> str | None:
        if widget is None or not widget.id or not widget.id.startswith("f-"):
            return None
        return widget.id[2:]

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _live_check(self, event: Input.Changed | TextArea.Changed) -> None:
        field_id = self._field_of(getattr(event, "control", None))
        if field_id is None:
            return
        self.set_error(field_id, check_field(field_id, self.values()[field_id]))

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        # enter in a one-line field moves on, like tab; ctrl+s or the button submits.
        event.stop()
        self.focus_next()

    # --- actions --------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.action_start()
        else:
            self.action_cancel()

    def action_start(self) -> None:
        if self.submitting:
            return
        values = self.values()
        problems = {fid: check_field(fid, values[fid]) for fid in FIELDS}
        if not str(values["url"]).strip():
            problems["url"] = "a start URL is required"
        for fid, message in problems.items():
            self.set_error(fid, message)
        first_bad = next((fid for fid, m in problems.items() if m), None)
        if first_bad is not None:
            self.query_one(f"#f-{first_bad}").focus()
            return
        try:
            config = build_config(values)
            secrets = parse_secrets(str(values["headers"]), str(values["cookies"]))
        except ConfigError as exc:  # a rule that spans fields
            self.show_config_error(exc)
            return
        # Show what will be crawled: `example.org` was completed to `https://example.org/`.
        self.query_one("#f-url", Input).value = config.target_url
        self.query_one("#form-error", Label).remove_class("-shown")
        self.submitting = True
        self.post_message(messages.NewSessionSubmitted(self, config, secrets))

    @on(messages.NewSessionRefused)
    def _refused(self, message: messages.NewSessionRefused) -> None:
        if isinstance(message.error, ConfigError):
            self.show_config_error(message.error)
        else:
            self.submitting = False

    def is_dirty(self) -> bool:
        return self.values() != self._pristine

    def action_cancel(self) -> None:
        if not self.is_dirty():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen(
                Content("Discard this form? What you typed is lost."),
                yes="Discard",
                no="Keep editing",
            ),
            answered,
        )


_HINTS = {
    "include": "one regex per line; empty = all in scope",
    "exclude": "one regex per line",
    "extract": "one per line: NAME=CSS or NAME=CSS@attr",
    "max_body": "after decompression; bigger pages fail as too_large",
    "headers": "NAME: VALUE, several as N: V | N2: V2; sent only to the start URL's origin, "
    "never stored in the database",
    "cookies": "NAME=VALUE; NAME2=VALUE2 (same rules as headers)",
}
