"""Home: every session with live status; the place every other screen returns to.

A session running in a background worker (its record says running, no crawl of it runs in this
process, and another process holds its lease) is marked as such, with the worker's pid, host
and age under the table; Enter opens its live screen, which follows the worker. A `running`
record whose lease nobody holds is shown as what it is: interrupted.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label

from tui_scraper.domain import RESUMABLE, SessionRecord, Status
from tui_scraper.service import WorkerInfo

from .. import messages
from ..text import display_safe, human_time, labelled, short_url
from ..widgets.footer import KeysFooter
from ..widgets.status import status_text
from ..widgets.tables import FlexTable
from ..widgets.worker import worker_label
from .analytics import mark_for_compare

if TYPE_CHECKING:
    from ..host import ScraperHost

COLUMNS = (
    ("id", "ID", 8),
    ("status", "Status", 11),
    ("target", "Target", 10),
    ("done", "Done", 5),
    ("failed", "Fail", 4),
    ("queued", "Queue", 5),
    ("started", "Start", 5),
    ("updated", "Update", 6),
)
DISMISSABLE = frozenset({Status.INTERRUPTED, Status.PAUSED})
# While a background worker runs a listed session, the list is read again this often: its
# counters live in the store (the worker checkpoints), not in this process.
BACKGROUND_RELOAD_S = 2.0


class SessionsTable(FlexTable):
    """The list itself. Its own enter binding carries a description, so the footer shows
    "enter Open": DataTable's (select_cursor, no description) would otherwise hide the
    screen's, the focused widget's binding for a key winning over the screen's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="sessions.open_row"),
    ]


class SessionsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New", id="sessions.new"),
        Binding("enter", "open", "Open", id="sessions.open"),
        Binding("r", "resume", "Resume", id="sessions.resume"),
        Binding("d", "dismiss_session", "Dismiss", id="sessions.dismiss"),
        Binding("e", "export", "Export", id="sessions.export"),
        # Not in the footer (no room at 80 columns next to "? Keys", which lists it).
        Binding("slash", "filter", "Filter", key_display="/", show=False, id="sessions.filter"),
        # Mark one session, then `c` on another: their analytics side by side (analytics.py).
        Binding("c", "compare", "Compare", show=False, id="sessions.compare"),
        Binding("q", "app.quit", "Quit", id="sessions.quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, SessionRecord] = {}
        # Sessions recorded as running that no crawl of this process runs: the worker holding
        # each one's lease, or None when nobody holds it (gone: shown as interrupted).
        self.background: dict[str, WorkerInfo | None] = {}
        # Pending sessions waiting in the background service's queue: id → place (1 = next).
        self.places: dict[str, int] = {}
        self.filter_text = ""

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="sessions-body"):
            yield Input(placeholder="filter by target, id or status", id="filter")
            yield SessionsTable(
                flex_column="target", id="sessions-table", cursor_type="row", zebra_stripes=True
            )
            yield Label(Content(""), id="sessions-empty")
            yield Label(Content(""), id="sessions-detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "Sessions"
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(Text(label), key=key, width=width)
        self.query_one("#filter", Input).cursor_blink = self.scraper.cursor_blink
        self.scraper.sessions_changed.subscribe(self, self._changed)
        if self.scraper.sample_hz:
            self.set_interval(1 / self.scraper.sample_hz, self.sample)
            self.set_interval(BACKGROUND_RELOAD_S, self._reload_background)
        table.focus()
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def _changed(self, _session_id: str) -> None:
        if self._seen():
            self.reload()
        # Covered (by a live screen, typically): on_screen_resume reloads. Reloading beneath
        # it would redraw the table and recompose the footer of a screen nobody sees.

    @on(FlexTable.Fitted)
    def _refit(self) -> None:
        # Targets are shortened to the column's width: a resize re-shortens them.
        if self.records:
            self.show_records(list(self.records.values()))

    def reload(self) -> None:
        # A callable, not a coroutine: an exclusive worker cancelled before it starts would
        # otherwise leave a never-awaited coroutine behind.
        self.run_worker(self._reload, group="reload", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _reload(self) -> None:
        service = self.scraper.service
        records = await service.list_sessions()
        here = set(service.running_ids())
        elsewhere = [r.id for r in records if r.status is Status.RUNNING and r.id not in here]

        def read_workers() -> dict[str, WorkerInfo | None]:
            return {session_id: service.worker_of(session_id) for session_id in elsewhere}

        # Lease files: read off the event loop.
        self.background = await asyncio.to_thread(read_workers) if elsewhere else {}
        if any(r.status is Status.PENDING for r in records):
            from tui_scraper.service.planning import queue_places

            self.places = await queue_places(service.location)
        else:
            self.places = {}
        self.show_records(records)

    # --- rendering ------------------------------------------------------------------------

    def show_records(self, records: list[SessionRecord]) -> None:
        """Replace the table's rows, keeping the cursor on the same session."""
        self.records = {r.id: r for r in records}
        table = self.query_one(DataTable)
        selected = self.selected_id()
        needle = self.filter_text.casefold()
        shown = [r for r in records if not needle or needle in _haystack(r)]
        with self.app.batch_update():
            table.clear()
            for record in shown:
                table.add_row(*self._cells(record), key=record.id)
            if selected in {r.id for r in shown}:
                table.move_cursor(row=table.get_row_index(selected))
        empty = self.query_one("#sessions-empty", Label)
        if not records:
            empty.update(Content("No sessions yet. Press n to start a crawl."))
        elif not shown:
            empty.update(Content("No session matches the filter."))
        else:
            empty.update(Content(""))
        empty.display = not shown
        self._update_detail()
        self.sample()
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """Redraw the footer's keys (they depend on the highlighted session) when this screen
        is shown; a covered one's are redrawn by the resume's reload."""
        if self._seen():
            self.refresh_bindings()

    def _seen(self) -> bool:
        """Whether any of this screen shows: on top, or beneath one that lets it show through
        (a dialog). `is_current` is also true beneath an opaque screen such as live progress."""
        top = self.app.screen
        return top is self or (self.is_current and top.styles.background.a < 1)

    def _cells(self, record: SessionRecord) -> list[Text]:
        p = record.progress
        now = self.scraper.now()
        width = self.query_one(SessionsTable).column_width("target")
        target = short_url(display_safe(record.target_url), width)
        return [
            Text(record.short_id),
            self._row_status(record),
            Text(target, no_wrap=True, overflow="ellipsis"),
            Text(str(p.done), justify="right"),
            Text(str(p.failed), justify="right", style="red" if p.failed else ""),
            Text(str(p.queued + p.fetching), justify="right"),
            Text(human_time(record.start_time or record.created_at, now=now, short=True)),
            Text(human_time(record.last_updated, now=now, short=True)),
        ]

    def _row_status(self, record: SessionRecord) -> Text:
        if record.id in self.background:
            if self.background[record.id] is None:
                return status_text(Status.INTERRUPTED)
            # A background worker runs it: "running bg" (the worker is named under the table).
            return Text.assemble(status_text(Status.RUNNING), (" bg", "dim"))
        if record.status is Status.PENDING and record.id in self.places:
            return Text.assemble(
                status_text(Status.PENDING), (f" #{self.places[record.id]}", "dim")
            )
        return self._status_cell(record.status, record)

    @staticmethod
    def _status_cell(status: Status, record: SessionRecord) -> Text:
        # Dismissed is a flag, not a status: the row says so (dimmed) and the line under the
        # table gives the status; `r` still resumes it.
        if record.dismissed_at is not None and status in DISMISSABLE:
            return Text("dismissed", style="dim italic")
        return status_text(status)

    def sample(self) -> None:
        """Refresh the rows of running crawls from their in-memory stats (no database read)."""
        if not self.scraper.service_ready or self.app.screen is not self:
            return  # covered (e.g. by live progress): on_screen_resume reloads anyway
        table = self.query_one(DataTable)
        service = self.scraper.service
        for session_id in service.running_ids():
            snap = service.latest(session_id) if session_id in table.rows else None
            if snap is None:
                continue
            p = snap.progress
            record = self.records.get(session_id)
            cell = self._status_cell(snap.status, record) if record else status_text(snap.status)
            table.update_cell(session_id, "status", cell)
            table.update_cell(session_id, "done", Text(str(p.done), justify="right"))
            table.update_cell(
                session_id,
                "failed",
                Text(str(p.failed), justify="right", style="red" if p.failed else ""),
            )
            table.update_cell(
                session_id, "queued", Text(str(p.queued + p.fetching), justify="right")
            )

    # --- selection ------------------------------------------------------------------------

    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    def selected(self) -> SessionRecord | None:
        session_id = self.selected_id()
        return self.records.get(session_id) if session_id else None

    def _reload_background(self) -> None:
        if self.scraper.service_ready and self.app.screen is self and self._background():
            self.reload()

    def _background(self) -> bool:
        return any(worker is not None for worker in self.background.values())

    def _live_status(self, record: SessionRecord) -> Status:
        running = record.id in self.scraper.service.running_ids()
        if running:
            return Status.RUNNING
        if record.id in self.background and self.background[record.id] is None:
            return Status.INTERRUPTED  # recorded running, but its process is gone
        return record.status

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Disabled (greyed in the footer) rather than hidden, so the keys stay discoverable.
        if action in ("open", "export"):
            return self.selected() is not None or None
        if action == "resume":
            record = self.selected()
            if record is None:
                return None
            return self._live_status(record) in RESUMABLE or None
        if action == "dismiss_session":
            record = self.selected()
            if record is None:
                return None
            ok = record.status in DISMISSABLE and record.dismissed_at is None
            return (ok and self._live_status(record) != Status.RUNNING) or None
        return True

    def disabled_reason(self, action: str) -> str | None:
        """What the footer's dimmed key would say, told when it is pressed anyway."""
        record = self.selected()
        if record is None:
            return "No session selected" if action in _ON_SESSION else None
        status = self._live_status(record)
        if action == "resume":
            if status == Status.RUNNING:
                return f"Session {record.short_id} is already running"
            return (
                f"Session {record.short_id} is {status.value}: "
                "only paused or interrupted sessions can be resumed"
            )
        if action == "dismiss_session":
            if record.dismissed_at is not None:
                return f"Session {record.short_id} is already dismissed"
            return (
                f"Session {record.short_id} is {status.value}: "
                "only paused or interrupted sessions can be dismissed"
            )
        return None

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._update_detail()
        self._refresh_keys()

    def _update_detail(self) -> None:
        """The highlighted session in full: the table cuts long targets on narrow terminals."""
        record = self.selected()
        detail = self.query_one("#sessions-detail", Label)
        if record is None:
            detail.update(Content(""))
            return
        now = self.scraper.now()
        status = self._live_status(record)
        worker = self.background.get(record.id)
        where = (
            f" in the background: {worker_label(worker, now=now)} (enter attaches)"
            if worker is not None
            else ""
        )
        detail.update(
            labelled(
                (f"{record.short_id} ", "bold"),
                record.target_url,
                (
                    f"\n{status.value}{where}"
                    + (
                        f", dismissed {human_time(record.dismissed_at, now=now)}"
                        if record.dismissed_at is not None
                        else ""
                    )
                    + f"  started {human_time(record.start_time, now=now)}"
                    f"  updated {human_time(record.last_updated, now=now)}",
                    "",
                ),
                f"  {record.error}" if record.error else "",  # may quote a website: untrusted
            )
        )

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    # --- actions --------------------------------------------------------------------------

    def action_new(self) -> None:
        self.post_message(messages.ShowNewSession(self))

    def action_open(self) -> None:
        record = self.selected()
        if record is None:
            return
        if self._live_status(record) == Status.RUNNING:
            self.post_message(messages.ShowProgress(self, record.id))
        else:
            self.post_message(messages.ShowDetail(self, record.id))

    async def action_resume(self) -> None:
        record = self.selected()
        if record is not None and self.check_action("resume", ()):
            self.post_message(messages.ResumeSession(self, record.id))

    async def action_dismiss_session(self) -> None:
        record = self.selected()
        allowed = record is not None and self.check_action("dismiss_session", ())
        if record is not None and allowed:
            self.post_message(messages.DismissSession(self, record.id))

    @on(messages.SessionDismissed)
    def _dismissed(self, message: messages.SessionDismissed) -> None:
        self.scraper.say(f"Dismissed {message.session_id[:8]}; it stays in the history")

    def action_export(self) -> None:
        record = self.selected()
        if record is not None:
            self.post_message(messages.ExportSession(self, record.id, record.target_url))

    def action_compare(self) -> None:
        mark_for_compare(self, self.selected_id())

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        # `records` always holds every session; the filter only decides which rows show.
        self.show_records(list(self.records.values()))

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    def key_escape(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-shown"):
            box.value = ""
            box.remove_class("-shown")
            self.query_one(DataTable).focus()

    # --- palette --------------------------------------------------------------------------

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        commands: list[tuple[str, Any, str]] = [
            ("Filter sessions", self.action_filter, "Type to filter the list (/)"),
        ]
        # Actions on the highlighted session, offered only when they apply (as the footer).
        for action, label, key in (
            ("open", "Open the highlighted session", "enter"),
            ("resume", "Resume the highlighted session", "r"),
            ("dismiss_session", "Dismiss the highlighted session", "d"),
            ("export", "Export the highlighted session", "e"),
        ):
            if self.check_action(action, ()):
                commands.append((label, getattr(self, f"action_{action}"), key))
        for record in list(self.records.values())[:50]:
            label = f"Open session {record.short_id} {display_safe(record.target_url, 80)}"
            commands.append((label, _opener(self, record.id), f"Status: {record.status.value}"))
        return commands


def _opener(screen: SessionsScreen, session_id: str) -> Any:
    def open_it() -> None:
        table = screen.query_one(DataTable)
        if session_id in table.rows:
            table.move_cursor(row=table.get_row_index(session_id))
        screen.action_open()

    return open_it


_ON_SESSION = frozenset({"open", "export", "resume", "dismiss_session"})


def _haystack(record: SessionRecord) -> str:
    dismissed = " dismissed" if record.dismissed_at is not None else ""
    return f"{record.id} {record.status.value}{dismissed} {record.target_url}".casefold()
