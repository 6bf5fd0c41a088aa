"""One session in full: summary figures, status codes, timeline, pages and their data/errors.

The Pages tab shows one keyset page of PAGE_SIZE rows at a time (`]` next, `[` previous) and a
search over URL and title (`/`): the store query is bounded by the page size, so a session of
a million pages costs the same to browse as one of a hundred.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
)

from tui_scraper.domain import EventRecord, PageRecord, PageStatus, SessionRecord

from .. import messages
from ..text import (
    display_safe,
    human_bytes,
    human_duration,
    human_ms,
    human_time,
    safe_content,
    safe_text,
    short_url,
)
from ..widgets.analytics import AnalyticsView
from ..widgets.status import http_text, status_text
from ..widgets.tables import FlexTable
from .confirm import ConfirmScreen

if TYPE_CHECKING:
    from ..host import ScraperHost

PAGE_FILTERS: tuple[PageStatus | None, ...] = (
    None,
    PageStatus.DONE,
    PageStatus.FAILED,
    PageStatus.SKIPPED,
    PageStatus.QUEUED,
)
PAGE_SIZE = 200
# A search that matches little reads the whole session (~0.2 s per million pages): wait for a
# pause in the typing instead of running one per keystroke.
SEARCH_DELAY_S = 0.3


def summary_lines(record: SessionRecord, *, now: float | None = None) -> list[tuple[str, str]]:
    """(label, value) figures of a session: the stored summary when complete, else progress."""
    p = record.progress
    s = record.summary or {}
    duration = s.get("duration_s")
    if duration is None and record.start_time:
        duration = (record.end_time or record.last_updated) - record.start_time
    latency = s.get("latency_ms") or {}
    lines = [
        ("Status", record.status.value),
        ("Created", human_time(record.created_at, now=now)),
        ("Started", human_time(record.start_time, now=now)),
        ("Ended", human_time(record.end_time, now=now)),
        ("Duration", human_duration(duration)),
        ("Pages", f"done {p.done}  failed {p.failed}  skipped {p.skipped}  queued {p.queued}"),
        ("Bytes", human_bytes(s.get("bytes", p.bytes))),
        ("Pages/s", str(s.get("pages_per_s") or f"{p.pages_per_s:.1f}")),
    ]
    if latency:
        lines.append(
            ("Latency", f"p50 {human_ms(latency.get('p50'))}  p95 {human_ms(latency.get('p95'))}")
        )
    if record.error:
        lines.append(("Error", record.error))
    if record.dismissed_at is not None:
        lines.append(("Dismissed", f"{human_time(record.dismissed_at, now=now)} (still resumable)"))
    return lines


def breakdown(record: SessionRecord, pages: list[PageRecord]) -> list[tuple[str, int]]:
    """HTTP status code → pages; from the stored summary, else counted from the loaded pages."""
    codes = (record.summary or {}).get("status_codes")
    if isinstance(codes, dict) and codes:
        return sorted(((str(k), int(v)) for k, v in codes.items()), key=lambda kv: kv[0])
    counted: dict[str, int] = {}
    for page in pages:
        if page.http_status is not None:
            counted[str(page.http_status)] = counted.get(str(page.http_status), 0) + 1
    return sorted(counted.items())


def page_details(page: PageRecord | None) -> Content:
    """Extracted data and error details of one page, all untrusted, rendered literally."""
    if page is None:
        return Content("Select a page to see its extracted data and errors.")
    parts: list[Content | tuple[str, str] | str] = [
        ("URL ", "bold"),
        safe_content(page.url, limit=2000),
        "\n",
        ("Title ", "bold"),
        safe_content(page.title or "–"),
        "\n",
        ("Type ", "bold"),
        safe_content(page.content_type or "–"),
        f"   attempts {page.attempts}   depth {page.depth}\n",
    ]
    if page.extracted:
        parts.append(("Extracted\n", "bold"))
        for name, value in page.extracted.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            parts += [
                "  ",
                safe_content(name, limit=64),
                ": ",
                safe_content(shown, limit=2000),
                "\n",
            ]
    if page.error:
        parts.append(("Error\n", "bold $error"))
        for key, value in page.error.items():
            parts += [
                "  ",
                safe_content(key, limit=64),
                ": ",
                safe_content(value, limit=2000),
                "\n",
            ]
    return Content.assemble(*parts)


class SessionDetailScreen(Screen[None]):
    # 1/2/3 are not in the footer (the tab bar shows the tabs; `?` lists the keys).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export", "Export", id="detail.export"),
        Binding("d", "diff", "Diff", show=False, id="detail.diff"),
        Binding("R", "recrawl", "Recrawl", show=False, id="detail.recrawl"),
        Binding("f", "cycle_filter", "Filter", id="detail.filter"),
        Binding("slash", "search", "Search", key_display="/", id="detail.search"),
        Binding("right_square_bracket", "next_page", "Next", key_display="]", id="detail.next"),
        Binding("left_square_bracket", "prev_page", "Prev", key_display="[", id="detail.prev"),
        Binding("1", "tab('summary')", "Summary", show=False, id="detail.summary"),
        Binding("2", "tab('pages')", "Pages", show=False, id="detail.pages"),
        Binding("3", "tab('timeline')", "Timeline", show=False, id="detail.timeline"),
        Binding("4", "tab('analytics')", "Analytics", show=False, id="detail.analytics"),
        Binding("escape", "back", "Back", id="detail.back"),
    ]

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.record: SessionRecord | None = None
        self.events: list[EventRecord] = []
        self.pages: list[PageRecord] = []
        self.page_filter: PageStatus | None = None
        self.search = ""
        # Keyset paging: the id after which the shown page starts, and those of the pages
        # before it (for `[`). `has_next` comes from asking for one row more than shown.
        self.page_after = 0
        self._earlier: list[int] = []
        self.has_next = False
        self.counts: dict[PageStatus, int] = {}
        self._search_timer: Timer | None = None

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(Content(""), id="detail-title")
        with TabbedContent(initial="summary", id="detail-tabs"):
            with TabPane("Summary", id="summary"), Horizontal(id="summary-body"):
                yield Static(Content("Loading…"), id="summary-figures")
                yield DataTable(id="summary-codes", cursor_type="none", zebra_stripes=True)
            with TabPane("Pages", id="pages"):
                yield Input(placeholder="search URL and title", id="pages-search")
                yield Label(Content(""), id="pages-filter")
                yield FlexTable(
                    flex={"url": 2, "title": 1},
                    id="pages-table",
                    cursor_type="row",
                    zebra_stripes=True,
                )
                with VerticalScroll(id="page-detail-box"):
                    yield Static(page_details(None), id="page-detail")
            with TabPane("Timeline", id="timeline"):
                yield FlexTable(
                    flex_column="reason", id="events-table", cursor_type="row", zebra_stripes=True
                )
            with TabPane("Analytics", id="analytics"):
                yield AnalyticsView(self.session_id, id="analytics-view")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Session {self.session_id[:8]}"
        codes = self.query_one("#summary-codes", DataTable)
        codes.add_column(Text("HTTP"), key="code", width=5)
        codes.add_column(Text("Pages"), key="count", width=7)
        pages = self.query_one("#pages-table", DataTable)
        pages.add_column(Text("Code"), key="code", width=4)
        pages.add_column(Text("State"), key="state", width=8)
        pages.add_column(Text("URL"), key="url", width=30)
        pages.add_column(Text("Title"), key="title", width=10)
        pages.add_column(Text("Size"), key="size", width=8)
        events = self.query_one("#events-table", DataTable)
        events.add_column(Text("When"), key="at", width=8)
        events.add_column(Text("What"), key="kind", width=10)
        events.add_column(Text("Change"), key="change", width=22)
        events.add_column(Text("Reason"), key="reason", width=10)
        events.add_column(Text("Who"), key="who", width=10)
        search = self.query_one("#pages-search", Input)
        search.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.scraper.sessions_changed.subscribe(self, self._changed)
        self.reload()

    def _changed(self, session_id: str) -> None:
        if session_id == self.session_id:
            self.reload()

    def reload(self) -> None:
        self.run_worker(self._load, group="load", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]
        self.query_one(AnalyticsView).reload()

    async def _load(self) -> None:
        manager = self.scraper.service
        record = await manager.get(self.session_id)
        events = await manager.events(self.session_id)
        pages = await self._fetch_pages(counts=True)
        self.show(record, events, pages)

    async def _fetch_pages(self, *, counts: bool = False) -> list[PageRecord]:
        manager = self.scraper.service
        if counts or not self.counts:
            # A count reads the session's index range (~0.2 s per million pages): on (re)load,
            # not on every page turn.
            self.counts = await manager.page_counts(self.session_id)
        rows = await manager.pages_after(
            self.session_id,
            status=self.page_filter,
            after_id=self.page_after,
            limit=PAGE_SIZE + 1,
            search=self.search,
        )
        self.has_next = len(rows) > PAGE_SIZE
        return rows[:PAGE_SIZE]

    async def _load_pages(self) -> None:
        self.show_pages(await self._fetch_pages())

    def _reload_pages(self) -> None:
        self.run_worker(self._load_pages, group="pages", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    # --- rendering ------------------------------------------------------------------------

    def show(
        self, record: SessionRecord, events: list[EventRecord], pages: list[PageRecord]
    ) -> None:
        self.record = record
        self.events = events
        now = self.scraper.now()
        self.query_one("#detail-title", Label).update(
            Content.assemble(
                (f"{record.short_id}  ", "bold"),
                (record.status.value, "bold"),
                (", dismissed" if record.dismissed_at is not None else "", "dim"),
                "  ",
                safe_content(record.target_url),
            )
        )
        figures = summary_lines(record, now=now)
        self.query_one("#summary-figures", Static).update(
            Content.assemble(
                *[
                    piece
                    for k, v in figures
                    for piece in ((f"{k:<9}", "bold"), safe_content(v), "\n")
                ]
            )
        )
        codes = self.query_one("#summary-codes", DataTable)
        codes.clear()
        for code, count in breakdown(record, pages):
            codes.add_row(
                http_text(int(code)) if code.isdigit() else Text(code),
                Text(str(count), justify="right"),
            )
        table = self.query_one("#events-table", DataTable)
        table.clear()
        for event in events:
            change = ""
            if event.from_status or event.to_status:
                before = event.from_status.value if event.from_status else "–"
                after = event.to_status.value if event.to_status else "–"
                change = f"{before} → {after}"
            table.add_row(
                Text(human_time(event.at, now=now)),
                safe_text(event.kind),
                Text(change),
                safe_text(event.reason),
                safe_text(event.who),
            )
        self.show_pages(pages)
        self.refresh_bindings()

    def show_pages(self, pages: list[PageRecord]) -> None:
        self.pages = pages
        table = self.query_one("#pages-table", FlexTable)
        home = self.record.target_url if self.record else None
        width = table.column_width("url")
        with self.app.batch_update():
            table.clear()
            for page in pages:
                table.add_row(
                    http_text(page.http_status),
                    status_text(page.status),
                    Text(short_url(display_safe(page.url), width, home=home), no_wrap=True),
                    safe_text(page.title or ""),
                    Text(human_bytes(page.size), justify="right"),
                    key=str(page.id),
                )
            self.query_one("#pages-filter", Label).update(
                safe_content(self._pages_caption(len(pages)))
            )
            self._show_selected_page()
        self.refresh_bindings()

    def _pages_caption(self, shown: int) -> str:
        name = self.page_filter.value if self.page_filter else "all"
        total = (
            sum(self.counts.values())
            if self.page_filter is None
            else self.counts.get(self.page_filter, 0)
        )
        first = len(self._earlier) * PAGE_SIZE + 1
        where = f"{first}–{first + shown - 1}" if shown else "none"
        if self.search:
            return f"{name.capitalize()} pages matching {self.search!r}: {where}"
        return f"{name.capitalize()} pages: {where} of {total:,}"

    @on(FlexTable.Fitted, "#pages-table")
    def _refit(self) -> None:
        if self.pages:
            self.show_pages(self.pages)

    def selected_page(self) -> PageRecord | None:
        table = self.query_one("#pages-table", DataTable)
        if table.row_count == 0:
            return None
        index = table.cursor_row
        return self.pages[index] if 0 <= index < len(self.pages) else None

    def _show_selected_page(self) -> None:
        self.query_one("#page-detail", Static).update(page_details(self.selected_page()))

    @on(DataTable.RowHighlighted, "#pages-table")
    def _page_highlighted(self) -> None:
        self._show_selected_page()

    # --- actions --------------------------------------------------------------------------

    def _first_page(self) -> None:
        self.page_after = 0
        self._earlier = []
        self._reload_pages()

    def action_cycle_filter(self) -> None:
        index = PAGE_FILTERS.index(self.page_filter)
        self.set_filter(PAGE_FILTERS[(index + 1) % len(PAGE_FILTERS)])

    def set_filter(self, status: PageStatus | None) -> None:
        self.page_filter = status
        self.action_tab("pages")
        self._first_page()

    def action_search(self) -> None:
        self.action_tab("pages")
        box = self.query_one("#pages-search", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#pages-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY_S, self._first_page)

    @on(Input.Submitted, "#pages-search")
    def _search_done(self) -> None:
        self.query_one("#pages-table").focus()

    def action_next_page(self) -> None:
        if not self.has_next or not self.pages:
            return
        self._earlier.append(self.page_after)
        self.page_after = self.pages[-1].id
        self.action_tab("pages")
        self._reload_pages()

    def action_prev_page(self) -> None:
        if not self._earlier:
            return
        self.page_after = self._earlier.pop()
        self.action_tab("pages")
        self._reload_pages()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_page":
            return self.has_next or None
        if action == "prev_page":
            return bool(self._earlier) or None
        return True

    def disabled_reason(self, action: str) -> str | None:
        if action == "next_page":
            return "This is the last page of pages"
        if action == "prev_page":
            return "This is the first page of pages"
        return None

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = tab
        # Move focus into the shown pane: focus left in a hidden pane would switch back to it.
        focus = {
            "pages": "#pages-table",
            "timeline": "#events-table",
            "analytics": "#analytics-view",
        }.get(tab)
        if focus:
            self.query_one(focus).focus()
        else:
            tabs.query_one(Tabs).focus()

    def action_export(self) -> None:
        target = self.record.target_url if self.record else ""
        self.post_message(messages.ExportSession(self, self.session_id, target))

    def action_diff(self) -> None:
        from .diff import DiffScreen

        self.app.push_screen(DiffScreen(self.session_id))

    def action_recrawl(self) -> None:
        """A new session asking only for what changed since this one (after a confirm)."""
        from tui_scraper.service.recrawl import NotRecrawlable, recrawl_config_of

        record = self.record
        if record is None:
            return
        try:
            config = recrawl_config_of(record)
        except NotRecrawlable as exc:
            self.scraper.say(str(exc), severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(messages.NewSessionSubmitted(self, config))

        question = Content.assemble(
            "Recrawl ",
            safe_content(record.target_url),
            f"? A new session asks for every page {record.short_id} stored, and fetches only "
            "what changed.",
        )
        self.app.push_screen(ConfirmScreen(question, yes="Recrawl", no="Cancel"), answered)

    def action_back(self) -> None:
        box = self.query_one("#pages-search", Input)
        if box.has_class("-shown") and (self.focused is box or self.search):
            # Escape closes the search first (and shows every page again), then the screen.
            box.value = ""
            box.remove_class("-shown")
            self.query_one("#pages-table").focus()
            return
        self.dismiss(None)

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        commands: list[tuple[str, Any, str]] = [
            ("Export this session", self.action_export, "e"),
            ("Compare with another session of this target", self.action_diff, "d"),
            ("Recrawl: only what changed since this session", self.action_recrawl, "R"),
            ("Show the summary", lambda: self.action_tab("summary"), "1"),
            ("Show the pages", lambda: self.action_tab("pages"), "2"),
            ("Show the timeline", lambda: self.action_tab("timeline"), "3"),
            ("Show the analytics", lambda: self.action_tab("analytics"), "4"),
        ]
        for status in PAGE_FILTERS:
            name = status.value if status else "all"
            commands.append((f"Show {name} pages", _filterer(self, status), "f cycles"))
        return commands


def _filterer(screen: SessionDetailScreen, status: PageStatus | None) -> Any:
    def run() -> None:
        screen.set_filter(status)

    return run
