"""Sessions that stopped without finishing: resume one with a key, dismiss, or decide later."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from tui_scraper.domain import EventRecord, SessionRecord

from .. import messages
from ..text import display_safe, human_time, labelled, safe_text, short_url
from ..widgets.status import status_text
from ..widgets.tables import FlexTable

if TYPE_CHECKING:
    from ..host import ScraperHost


def stop_reason(record: SessionRecord, events: list[EventRecord]) -> str:
    """Why the session stopped: the reason of the last transition into its current state."""
    for event in reversed(events):
        if event.to_status == record.status and event.reason:
            return event.reason
    return record.error or ""


class RecoveryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "resume", "Resume", id="recovery.resume"),
        Binding("enter", "resume", "Resume", show=False, id="recovery.resume_enter"),
        Binding("d", "dismiss_session", "Dismiss", id="recovery.dismiss"),
        Binding("escape", "later", "Later", id="recovery.later"),
    ]

    def __init__(self, records: list[SessionRecord], reasons: dict[str, str] | None = None) -> None:
        super().__init__()
        self.records = {r.id: r for r in records}
        self.reasons: dict[str, str] = dict(reasons or {})

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="recovery-body"):
            yield Label(
                Content(
                    "These sessions stopped before finishing. r resumes the highlighted one, "
                    "d hides it from this list (it stays in the history), escape decides later."
                ),
                id="recovery-intro",
            )
            yield FlexTable(
                flex_column="target", id="recovery-table", cursor_type="row", zebra_stripes=True
            )
            yield Label(Content(""), id="recovery-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Interrupted sessions"
        table = self.query_one(DataTable)
        table.add_column(Text("ID"), key="id", width=8)
        table.add_column(Text("State"), key="state", width=11)
        table.add_column(Text("Target"), key="target", width=10)
        table.add_column(Text("Reason"), key="reason", width=14)
        table.add_column(Text("Saved"), key="checkpoint", width=5)
        table.add_column(Text("Done/queued"), key="pages", width=11)
        for record in self.records.values():
            table.add_row(*self._cells(record), key=record.id)
        table.focus()
        self._update_detail()
        if not self.reasons:
            self.run_worker(self._load_reasons, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    def _cells(self, record: SessionRecord) -> list[Text]:
        p = record.progress
        checkpoint = record.heartbeat_at or record.last_updated
        return [
            Text(record.short_id),
            status_text(record.status),
            self._target(record),
            safe_text(self.reasons.get(record.id, "")),
            Text(human_time(checkpoint, now=self.scraper.now(), short=True)),
            Text(f"{p.done}/{p.queued + p.fetching}", justify="right"),
        ]

    def _target(self, record: SessionRecord) -> Text:
        # The sessions list's rule: no scheme, the host cut in its middle before the path.
        width = self.query_one(FlexTable).column_width("target")
        return Text(short_url(display_safe(record.target_url), width), no_wrap=True)

    @on(FlexTable.Fitted)
    def _refit(self) -> None:
        # Targets are shortened to the column's width: a resize re-shortens them.
        table = self.query_one(FlexTable)
        for record in self.records.values():
            if record.id in table.rows:
                table.update_cell(record.id, "target", self._target(record))

    async def _load_reasons(self) -> None:
        table = self.query_one(DataTable)
        for record in list(self.records.values()):
            events = await self.scraper.service.events(record.id)
            self.reasons[record.id] = stop_reason(record, events)
            if record.id in table.rows:
                table.update_cell(record.id, "reason", safe_text(self.reasons[record.id]))
        self._update_detail()

    def selected(self) -> SessionRecord | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.records.get(key or "")

    def _update_detail(self) -> None:
        record = self.selected()
        detail = self.query_one("#recovery-detail", Label)
        if record is None:
            detail.update(Content("Nothing left to recover."))
            return
        p = record.progress
        checkpoint = record.heartbeat_at or record.last_updated
        detail.update(
            labelled(
                ("Target  ", "bold"),
                record.target_url,
                ("\nReason  ", "bold"),
                self.reasons.get(record.id, "") or "–",
                ("\nSaved   ", "bold"),
                (
                    f"{human_time(checkpoint, now=self.scraper.now())}   "
                    f"{p.done} pages done, {p.queued + p.fetching} queued",
                    "",
                ),
            )
        )

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._update_detail()
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    async def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.action_resume()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("resume", "dismiss_session"):
            return self.selected() is not None or None
        return True

    async def action_resume(self) -> None:
        record = self.selected()
        if record is None:
            return
        # Once started, live progress replaces this screen: escape from there goes home.
        self.post_message(messages.ResumeSession(self, record.id, replace=True))

    async def action_dismiss_session(self) -> None:
        record = self.selected()
        if record is None:
            return
        self.post_message(messages.DismissSession(self, record.id))

    @on(messages.SessionResumed)
    def _resumed(self, message: messages.SessionResumed) -> None:
        self._remove(message.session_id)

    @on(messages.SessionDismissed)
    def _dismissed(self, message: messages.SessionDismissed) -> None:
        self._remove(message.session_id)
        if not self.records and self.app.screen is self:
            self.dismiss(None)

    def _remove(self, session_id: str) -> None:
        self.records.pop(session_id, None)
        table = self.query_one(DataTable)
        if session_id in table.rows:
            table.remove_row(session_id)
        self._update_detail()
        self.refresh_bindings()

    def action_later(self) -> None:
        self.dismiss(None)

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        commands: list[tuple[str, Any, str]] = []
        for record in self.records.values():
            target = display_safe(record.target_url, 80)
            commands.append((f"Resume {record.short_id} {target}", _resumer(self, record.id), "r"))
            commands.append(
                (f"Dismiss {record.short_id} {target}", _dismisser(self, record.id), "d")
            )
        return commands


def _focus(screen: RecoveryScreen, session_id: str) -> None:
    table = screen.query_one(DataTable)
    if session_id in table.rows:
        table.move_cursor(row=table.get_row_index(session_id))


def _resumer(screen: RecoveryScreen, session_id: str) -> Any:
    async def run() -> None:
        _focus(screen, session_id)
        await screen.action_resume()

    return run


def _dismisser(screen: RecoveryScreen, session_id: str) -> Any:
    async def run() -> None:
        _focus(screen, session_id)
        await screen.action_dismiss_session()

    return run
