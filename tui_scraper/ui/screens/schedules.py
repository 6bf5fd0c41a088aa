"""Schedules and the queue: the background service's work, seen and edited from the app.

Two tables: the schedules (timing, next run, missed-run policy — "once" for run-once —, last
result; `a` adds one with the New-session form and its validation, `e` edits the selected one
in the same form, `p` pauses or resumes, `x` removes) and the queue (sessions waiting for the
service, in order; `u`/`d` move one a place, `x` takes it out, the session kept). Everything
goes through `service/planning.py`, from this screen's workers: the screen never touches the
store, and the tables are read again every second.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Select, TextArea

from tui_scraper.domain.config import DEFAULT_USER_AGENT
from tui_scraper.domain.errors import ConfigError, ScraperError
from tui_scraper.domain.schedules import (
    MISSED_POLICIES,
    ScheduleRecord,
    ScheduleSpec,
    check_cron,
    check_timezone,
    describe_seconds,
    parse_every,
)
from tui_scraper.service.planning import (
    PlanningService,
    QueuedSession,
    ScheduleView,
    service_running,
)

from .. import messages
from ..text import display_safe
from ..widgets.tables import FlexTable
from .new_session import NewSessionScreen

if TYPE_CHECKING:
    from ..host import ScraperHost

REFRESH_S = 1.0
TIMING_FIELDS = ("every", "cron", "tz", "missed")
_TIMING_LABELS = {
    "every": "Every",
    "cron": "Cron",
    "tz": "Time zone",
    "missed": "Missed runs",
}
_TIMING_HINTS = {
    "every": "an interval: 30s, 15m, 6h, 1d (or leave empty and give Cron)",
    "cron": "five fields, e.g. 0 3 * * * for 03:00 every day",
    "missed": "runs missed while the service was down: run once when it is back, or skip",
}


def _when(ts: float | None) -> str:
    """Month, day and time: the year is this one or the next, and 80 columns are few."""
    return time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def last_result(view: ScheduleView) -> str:
    record = view.schedule
    if record.last_outcome is None:
        return "no run yet"
    if record.last_outcome == "started" and record.last_session_id:
        shown = view.last_status.value if view.last_status is not None else "?"
        return f"{record.last_session_id[:8]} {shown}"
    return record.last_outcome


# The CrawlConfig fields the New-session form sets (new_session.parse_field): an edit keeps the
# schedule's other settings (a CA bundle, the trap guard's limits) as they were.
FORM_CONFIG_FIELDS = (
    "target_url",
    "max_pages",
    "max_depth",
    "concurrency",
    "per_host_concurrency",
    "rate_per_host",
    "scope",
    "include",
    "exclude",
    "respect_robots",
    "extract",
    "download",
    "retries",
    "request_timeout",
    "max_body_bytes",
    "user_agent",
    "allow_private",
)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class ScheduleFormScreen(NewSessionScreen):
    """The New-session form with a schedule's timing on top: the crawl's fields are checked by
    the same rules (the form's own validation), the timing by croniter and zoneinfo. Given a
    schedule (`editing`), it opens filled with that schedule's crawl and timing and saves over
    it."""

    def __init__(self, planning: PlanningService, editing: ScheduleRecord | None = None) -> None:
        super().__init__()
        self.planning = planning
        self.editing = editing

    def on_mount(self) -> None:
        # Textual runs NewSessionScreen.on_mount as well (every class's handler is called).
        rows = [self._timing_row(field_id) for field_id in TIMING_FIELDS]
        self.query_one("#form").mount(*rows, after="#form-error")
        for hidden in ("headers", "cookies"):  # secrets are never stored: not for schedules
            self.query_one(f"#row-{hidden}").display = False
        self.query_one("#start", Button).label = Content("Add schedule")
        self.call_after_refresh(self._ready)

    def _ready(self) -> None:
        self.sub_title = "New schedule" if self.editing is None else "Edit schedule"
        if self.editing is not None:
            self._fill(self.editing)
            self.query_one("#start", Button).label = Content("Save schedule")
            self._pristine = self.values()
        self.query_one("#t-every", Input).focus()

    def _fill(self, record: ScheduleRecord) -> None:
        """Every field from the schedule (values as the form writes them)."""
        c = record.config
        texts = {
            "url": c.target_url,
            "max_pages": _number(c.max_pages),
            "max_depth": _number(c.max_depth),
            "concurrency": str(c.concurrency),
            "per_host": str(c.per_host_concurrency),
            "rate": _number(c.rate_per_host),
            "download": ", ".join(c.download),
            "retries": str(c.retries),
            "timeout": f"{c.request_timeout:g}",
            "max_body": str(c.max_body_bytes),
            "user_agent": "" if c.user_agent == DEFAULT_USER_AGENT else c.user_agent,
        }
        for field_id, text in texts.items():
            self.query_one(f"#f-{field_id}", Input).value = text
        areas = {
            "include": "\n".join(c.include),
            "exclude": "\n".join(c.exclude),
            "extract": "\n".join(rule.spec() for rule in c.extract),
        }
        for field_id, text in areas.items():
            self.query_one(f"#f-{field_id}", TextArea).text = text
        self.query_one("#f-scope", Select).value = c.scope
        self.query_one("#f-robots", Checkbox).value = c.respect_robots
        self.query_one("#f-private", Checkbox).value = c.allow_private
        every = "" if record.every_s is None else describe_seconds(record.every_s)
        self.query_one("#t-every", Input).value = every
        self.query_one("#t-cron", Input).value = record.cron or ""
        self.query_one("#t-tz", Input).value = record.tz
        self.query_one("#t-missed", Select).value = record.missed

    def _timing_row(self, field_id: str) -> Horizontal:
        widget: Input | Select[str]
        if field_id == "missed":
            widget = Select(
                [(Content(p), p) for p in MISSED_POLICIES],
                value="run-once",
                allow_blank=False,
                compact=True,
            )
        else:
            default = "UTC" if field_id == "tz" else ""
            widget = Input(default, placeholder="none" if field_id != "tz" else "", compact=True)
            widget.cursor_blink = self.scraper.cursor_blink
        widget.id = f"t-{field_id}"
        parts: list[Label | Input | Select[str]] = [widget]
        if field_id in _TIMING_HINTS:
            parts.append(Label(Content(_TIMING_HINTS[field_id]), classes="field-hint"))
        parts.append(Label(Content(""), id=f"terr-{field_id}", classes="field-error"))
        return Horizontal(
            Label(Content(_TIMING_LABELS[field_id]), classes="field-label"),
            Vertical(*parts, classes="field-input"),
            classes="field",
            id=f"trow-{field_id}",
        )

    def set_timing_error(self, field_id: str, message: str | None) -> None:
        label = self.query_one(f"#terr-{field_id}", Label)
        label.update(Content(display_safe(message or "")))
        label.set_class(bool(message), "-shown")
        self.query_one(f"#trow-{field_id}").set_class(bool(message), "-invalid")

    def timing(self) -> tuple[float | None, str | None, str, str]:
        """The timing fields checked (ConfigError naming every/cron/tz otherwise)."""
        every_text = self.query_one("#t-every", Input).value.strip()
        cron_text = self.query_one("#t-cron", Input).value.strip()
        zone = self.query_one("#t-tz", Input).value.strip() or "UTC"
        missed = str(self.query_one("#t-missed", Select).value)
        if bool(every_text) == bool(cron_text):
            raise ConfigError("every", "give an interval or a cron expression (one of them)")
        every = parse_every(every_text) if every_text else None
        cron = check_cron(cron_text) if cron_text else None
        check_timezone(zone)
        return every, cron, zone, missed

    @on(Input.Changed, "#t-every, #t-cron, #t-tz")
    def _timing_changed(self, event: Input.Changed) -> None:
        # Not a crawl field: the form's live check of crawl fields has nothing to say here.
        event.stop()
        for field_id in TIMING_FIELDS:
            self.set_timing_error(field_id, None)

    @on(messages.NewSessionSubmitted)
    def _add(self, message: messages.NewSessionSubmitted) -> None:
        # The form's own checks passed; this form adds a schedule instead of starting a crawl.
        message.stop()
        try:
            every, cron, zone, missed = self.timing()
            if message.secret_headers:
                raise ConfigError("headers", "secret headers are not kept for schedules")
            config = message.config
            if self.editing is not None:
                chosen = {name: getattr(config, name) for name in FORM_CONFIG_FIELDS}
                config = self.editing.config.with_changes(**chosen)
            spec = ScheduleSpec(
                config=config,
                every_s=every,
                cron=cron,
                tz=zone,
                missed=missed,  # type: ignore[arg-type]
            )
        except ConfigError as exc:
            self.submitting = False
            self.set_timing_error(exc.field if exc.field in TIMING_FIELDS else "every", exc.message)
            return
        self._store(spec)

    @work(exclusive=True, group="schedule-add", exit_on_error=False)
    async def _store(self, spec: ScheduleSpec) -> None:
        try:
            if self.editing is None:
                record = await self.planning.add_schedule(spec)
            else:
                record = await self.planning.edit_schedule(self.editing.id, spec)
        except ConfigError as exc:
            self.show_config_error(exc)
            return
        except ScraperError as exc:
            self.submitting = False
            self.scraper.say(str(exc), severity="error")
            return
        self.dismiss(None)
        done = "added" if self.editing is None else "saved"
        self.scraper.say(f"schedule {record.short_id} {done}: {record.timing}")


class SchedulesScreen(Screen[None]):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="schedules.add"),
        Binding("e", "edit", "Edit", id="schedules.edit"),
        Binding("p", "pause", "Pause/resume", id="schedules.pause"),
        Binding("x,delete", "remove", "Remove", id="schedules.remove"),
        Binding("u", "move(-1)", "Up", id="schedules.up"),
        Binding("d", "move(1)", "Down", id="schedules.down"),
        Binding("escape", "back", "Back", id="schedules.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.planning: PlanningService | None = None
        self.views: list[ScheduleView] = []
        self.queued: list[QueuedSession] = []

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(Content("Schedules"), classes="section-title")
        yield FlexTable(id="schedules", flex={"timing": 1, "target": 2}, cursor_type="row")
        yield Label(Content("Queue"), classes="section-title")
        yield FlexTable(id="queue", flex_column="target", cursor_type="row")
        yield Label(Content(""), id="service-line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Schedules and queue"
        schedules = self.query_one("#schedules", FlexTable)
        for key, label, width in (
            ("id", "ID", 8),
            ("timing", "Timing", 12),
            ("next", "Next run", 11),
            ("missed", "Missed", 6),
            ("last", "Last result", 14),
        ):
            schedules.add_column(Text(label), key=key, width=width)
        schedules.add_column(Text("Target"), key="target")
        queue = self.query_one("#queue", FlexTable)
        for key, label, width in (("place", "#", 3), ("id", "ID", 8), ("status", "Status", 9)):
            queue.add_column(Text(label), key=key, width=width)
        queue.add_column(Text("Target"), key="target")
        schedules.focus()
        self._open()
        self.set_interval(REFRESH_S, self.reload)

    async def on_unmount(self) -> None:
        if self.planning is not None:
            planning, self.planning = self.planning, None
            await planning.close()

    @work(exclusive=True, group="schedules-open", exit_on_error=False)
    async def _open(self) -> None:
        try:
            self.planning = await PlanningService.open(self.scraper.service.location, who="ui")
        except ScraperError as exc:
            self.scraper.say(str(exc), severity="error")
            return
        await self._load()

    def reload(self) -> None:
        if self.planning is not None:
            self._reload()

    @work(exclusive=True, group="schedules-load", exit_on_error=False)
    async def _reload(self) -> None:
        await self._load()

    async def _load(self) -> None:
        planning = self.planning
        if planning is None:
            return
        try:
            views = await planning.schedules()
            queued = [q for q in await planning.queued() if q.entry.started_at is None]
            running = service_running(self.scraper.service.location.data_dir)
        except ScraperError as exc:
            self.query_one("#service-line", Label).update(Content(display_safe(str(exc))))
            return
        self.views, self.queued = views, queued
        self._fill_schedules(views)
        self._fill_queue(queued)
        line = (
            f"service running (pid {running.pid}, at most {running.parallel} at a time)"
            if running is not None
            else "service not running: tui-scraper service start"
        )
        self.query_one("#service-line", Label).update(Content(line))

    def _fill_schedules(self, views: list[ScheduleView]) -> None:
        table = self.query_one("#schedules", FlexTable)
        keep = table.cursor_row
        table.clear()
        for view in views:
            record = view.schedule
            table.add_row(
                Text(record.short_id),
                Text(display_safe(record.timing, 40), no_wrap=True, overflow="ellipsis"),
                Text("paused" if record.paused else _when(record.next_run_at)),
                Text("once" if record.missed == "run-once" else record.missed),
                Text(last_result(view), no_wrap=True, overflow="ellipsis"),
                Text(display_safe(record.target_url, 300), no_wrap=True, overflow="ellipsis"),
                key=record.id,
            )
        if views:
            table.move_cursor(row=min(keep, len(views) - 1))

    def _fill_queue(self, queued: list[QueuedSession]) -> None:
        table = self.query_one("#queue", FlexTable)
        keep = table.cursor_row
        table.clear()
        for q in queued:
            table.add_row(
                Text(str(q.entry.place), justify="right"),
                Text(q.session.short_id),
                Text(q.session.status.value),
                Text(display_safe(q.session.target_url, 300), no_wrap=True, overflow="ellipsis"),
                key=q.session.id,
            )
        if queued:
            table.move_cursor(row=min(keep, len(queued) - 1))

    # --- selection and actions ------------------------------------------------------------

    def _selected_schedule(self) -> ScheduleRecord | None:
        table = self.query_one("#schedules", FlexTable)
        if not self.views or not 0 <= table.cursor_row < len(self.views):
            return None
        return self.views[table.cursor_row].schedule

    def _selected_queued(self) -> QueuedSession | None:
        table = self.query_one("#queue", FlexTable)
        if not self.queued or not 0 <= table.cursor_row < len(self.queued):
            return None
        return self.queued[table.cursor_row]

    def _in_queue(self) -> bool:
        return self.focused is self.query_one("#queue", FlexTable)

    def action_add(self) -> None:
        if self.planning is not None:
            self.app.push_screen(ScheduleFormScreen(self.planning), lambda _: self.reload())

    def action_edit(self) -> None:
        record = self._selected_schedule()
        if self.planning is not None and record is not None and not self._in_queue():
            self.app.push_screen(ScheduleFormScreen(self.planning, record), lambda _: self.reload())

    def action_pause(self) -> None:
        record = self._selected_schedule()
        if record is not None and not self._in_queue():
            self._change(lambda p: p.pause_schedule(record.id, not record.paused))

    def action_remove(self) -> None:
        if self._in_queue():
            queued = self._selected_queued()
            if queued is not None:
                self._change(lambda p: p.unqueue(queued.session.id))
            return
        record = self._selected_schedule()
        if record is not None:
            self._change(lambda p: p.remove_schedule(record.id))

    def action_move(self, delta: int) -> None:
        queued = self._selected_queued()
        if queued is None or not self._in_queue():
            return
        table = self.query_one("#queue", FlexTable)
        row = table.cursor_row + delta
        self._change(lambda p: p.move(queued.session.id, delta))
        if 0 <= row < len(self.queued):
            table.move_cursor(row=row)

    def action_back(self) -> None:
        self.dismiss(None)

    @work(group="schedules-change", exit_on_error=False)
    async def _change(self, change: Callable[[PlanningService], Awaitable[object]]) -> None:
        planning = self.planning
        if planning is None:
            return
        try:
            await change(planning)
        except ScraperError as exc:
            self.scraper.say(str(exc), severity="error")
        await self._load()


__all__ = ["ScheduleFormScreen", "SchedulesScreen", "last_result"]
