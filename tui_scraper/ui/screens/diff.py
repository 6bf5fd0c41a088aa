"""What changed between two sessions of one target: the Diff view, from a session's detail (`d`).

This session is the later one (B); the one it is compared with (A) defaults to the session it
was recrawled from, else the newest earlier session of the same target; `c` moves to the next
one. `f` cycles the kinds shown (every difference, changed, added, removed, status changes);
Enter on a changed page shows a unified diff of the two pages' visible text. Every URL and line
of page text is the site's: shown literally, never as markup.

The comparison streams both sessions from the service (service/diff.py): the counts are exact
however large they are, and the table lists the first MAX_ROWS differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from tui_scraper.domain import SessionRecord
from tui_scraper.service.diff import DiffEntry, DiffSummary, outcome, text_diff

from ..text import display_safe, safe_content, short_url
from ..widgets.tables import FlexTable

if TYPE_CHECKING:
    from ..host import ScraperHost

KIND_FILTERS: tuple[str, ...] = ("all", "changed", "added", "removed", "status")
MAX_ROWS = 2000
# A diff of two long pages is cut here: the view is for reading, an export for everything.
MAX_DIFF_LINES = 2000
NOTES = {
    "added": "stored by the later session only",
    "removed": "stored by the earlier session only",
    "status": "a change of status, with no stored text on both sides to compare",
}
KIND_STYLE = {"added": "green", "removed": "red", "changed": "yellow", "status": "magenta"}


@dataclass
class LoadedDiff:
    before: SessionRecord
    after: SessionRecord
    summary: DiffSummary = field(default_factory=DiffSummary)
    entries: list[DiffEntry] = field(default_factory=list)  # the differing ones, at most MAX_ROWS


def compared_with(record: SessionRecord, sessions: list[SessionRecord]) -> list[SessionRecord]:
    """The sessions `record` may be compared with (same target, not itself), the default one
    first: the session it was recrawled from, else the newest earlier one, then the rest."""
    others = [s for s in sessions if s.target_url == record.target_url and s.id != record.id]
    others.sort(key=lambda s: s.created_at, reverse=True)
    earlier = [s for s in others if s.created_at <= record.created_at]
    first = next((s for s in others if s.id == record.config.recrawl_of), None)
    if first is None and earlier:
        first = earlier[0]
    if first is None:
        return others
    return [first, *(s for s in others if s.id != first.id)]


def entry_kind(entry: DiffEntry) -> str:
    return entry.kind if entry.kind not in (None, "unchanged") else "status"


def shown(entry: DiffEntry, kind: str) -> bool:
    if kind == "all":
        return True
    if kind == "status":
        return entry.status_changed
    return entry.kind == kind


def diff_lines(lines: list[str]) -> Content:
    """A unified diff, each line literal, coloured by what it is (with its sign kept, so the
    meaning never rests on colour alone)."""
    if not lines:
        return Content("The two pages' text is the same (only markup or hidden parts differ).")
    parts: list[Content | str] = []
    for line in lines[:MAX_DIFF_LINES]:
        text = safe_content(line, limit=1000)
        if line.startswith(("+++", "---")):
            text = text.stylize("bold")
        elif line.startswith("@@"):
            text = text.stylize("$accent")
        elif line.startswith("+"):
            text = text.stylize("$success")
        elif line.startswith("-"):
            text = text.stylize("$error")
        parts += [text, "\n"]
    if len(lines) > MAX_DIFF_LINES:
        parts.append(f"… {len(lines) - MAX_DIFF_LINES} more lines")
    return Content.assemble(*parts)


class DiffScreen(Screen[None]):
    DEFAULT_CSS = """
    DiffScreen #diff-title { width: 100%; padding: 0 1; }
    DiffScreen #diff-counts { width: 100%; padding: 0 1; color: $text-muted; }
    DiffScreen #diff-table { height: 1fr; }
    DiffScreen #diff-text-box { height: 8; border-top: solid $primary; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "cycle_kind", "Kind", id="diff.kind"),
        Binding("c", "next_session", "Compare with", id="diff.compare"),
        Binding("escape", "back", "Back", id="diff.back"),
    ]

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.kind = "all"
        self.candidates: list[SessionRecord] = []
        self.against = 0  # index into candidates
        self.loaded: LoadedDiff | None = None
        self.rows: list[DiffEntry] = []

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(Content("Comparing…"), id="diff-title")
        yield Label(Content(""), id="diff-counts")
        yield FlexTable(flex_column="url", id="diff-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="diff-text-box"):
            yield Static(
                Content("Enter on a changed page shows what changed in its text."), id="diff-text"
            )
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Diff of {self.session_id[:8]}"
        table = self.query_one("#diff-table", DataTable)
        table.add_column(Text("Kind"), key="kind", width=8)
        table.add_column(Text("Before"), key="before", width=7)
        table.add_column(Text("After"), key="after", width=7)
        table.add_column(Text("URL"), key="url", width=30)
        self.run_worker(self._load, group="load", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _load(self) -> None:
        service = self.scraper.service
        after = await service.get(self.session_id)
        if not self.candidates:
            self.candidates = compared_with(after, await service.list_sessions())
        if not self.candidates:
            self._title(Content("No other session of this target to compare with."))
            return
        before = self.candidates[self.against % len(self.candidates)]
        self._title(self._caption(before, after, "comparing…"))
        loaded = LoadedDiff(before, after)
        async for entry in service.diff(before.id, after.id):
            loaded.summary.add(entry)
            if entry.differs and len(loaded.entries) < MAX_ROWS:
                loaded.entries.append(entry)
        self.loaded = loaded
        self._title(self._caption(before, after, ""))
        self.show_rows()

    def _caption(self, before: SessionRecord, after: SessionRecord, note: str) -> Content:
        return Content.assemble(
            (f"{before.short_id} → {after.short_id}  ", "bold"),
            safe_content(after.target_url),
            (f"  {note}" if note else "", "dim"),
        )

    def _title(self, text: Content) -> None:
        self.query_one("#diff-title", Label).update(text)

    def show_rows(self) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        s = loaded.summary
        counts = (
            f"added {len(s.added)}  removed {len(s.removed)}  changed {len(s.changed)}  "
            f"unchanged {s.unchanged}  status {len(s.status_changes)}   showing: {self.kind}"
        )
        self.query_one("#diff-counts", Label).update(Content(counts))
        self.rows = [e for e in loaded.entries if shown(e, self.kind)]
        table = self.query_one("#diff-table", FlexTable)
        width = table.column_width("url")
        home = loaded.after.target_url
        with self.app.batch_update():
            table.clear()
            for entry in self.rows:
                kind = entry_kind(entry)
                table.add_row(
                    Text(kind, style=KIND_STYLE.get(kind, "")),
                    Text("–" if entry.before is None else outcome(entry.before)),
                    Text("–" if entry.after is None else outcome(entry.after)),
                    Text(short_url(display_safe(entry.url), width, home=home), no_wrap=True),
                )

    @on(FlexTable.Fitted, "#diff-table")
    def _refit(self) -> None:
        self.show_rows()

    @on(DataTable.RowSelected, "#diff-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        index = event.cursor_row
        if 0 <= index < len(self.rows):
            entry = self.rows[index]
            self.run_worker(
                self._show_text_diff(entry), group="text", exclusive=True, exit_on_error=False
            )

    async def _show_text_diff(self, entry: DiffEntry) -> None:
        pane = self.query_one("#diff-text", Static)
        if entry.kind != "changed" or entry.before is None or entry.after is None:
            note = NOTES.get(entry.kind or "", NOTES["status"])
            pane.update(Content.assemble(safe_content(entry.url, limit=2000), f": {note}"))
            return
        pane.update(Content("Reading both pages…"))
        service = self.scraper.service
        before = await service.stored_text(entry.before)
        after = await service.stored_text(entry.after)
        if before is None or after is None:
            pane.update(Content("The stored content of one of the two pages is gone."))
            return
        loaded = self.loaded
        names = (
            ("before", "after")
            if loaded is None
            else (loaded.before.short_id, loaded.after.short_id)
        )
        pane.update(diff_lines(text_diff(before, after, before_name=names[0], after_name=names[1])))

    def action_cycle_kind(self) -> None:
        self.kind = KIND_FILTERS[(KIND_FILTERS.index(self.kind) + 1) % len(KIND_FILTERS)]
        self.show_rows()

    def action_next_session(self) -> None:
        if len(self.candidates) < 2:
            self.scraper.say("No other session of this target to compare with.")
            return
        self.against = (self.against + 1) % len(self.candidates)
        self.loaded = None
        self.run_worker(self._load, group="load", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    def action_back(self) -> None:
        self.dismiss(None)
