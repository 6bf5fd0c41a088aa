"""Live progress of one session, from the service's progress snapshots.

The screen only receives frozen `ProgressSnapshot`s (from `service.watch`, a few a second, or
`service.latest` when a test samples by hand); the crawl belongs to the service, so leaving
this screen (escape) does not stop it, and coming back shows it as it is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, ProgressBar, RichLog, Sparkline

from tui_scraper.domain import RESUMABLE, SessionRecord, Status
from tui_scraper.service import ProgressSnapshot

from .. import messages
from ..text import display_safe, human_bytes, human_duration, human_rate, safe_content
from ..widgets.recent_pages import RecentPagesTable
from ..widgets.status import STATUS_STYLE
from ..widgets.tail import new_tail
from .confirm import ConfirmScreen

if TYPE_CHECKING:
    from ..host import ScraperHost

MAX_LOG_LINES = 500


def snapshot_of_record(record: SessionRecord) -> ProgressSnapshot:
    """What a stopped session looks like to this screen: its stored progress, nothing live."""
    return ProgressSnapshot.of_record(record)


class ProgressScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause/resume", id="progress.pause"),
        Binding("c", "cancel_crawl", "Cancel crawl", id="progress.cancel"),
        Binding("i", "details", "Details", id="progress.details"),
        Binding("escape", "back", "Back", id="progress.back"),
        # The README's promise: q quits while it runs (asks, then checkpoints; app.quit).
        Binding("q", "app.quit", "Quit", id="progress.quit"),
    ]

    def __init__(
        self, session_id: str, *, sample_hz: float | None = 4.0, table_hz: float = 1.0
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.sample_hz = sample_hz
        # The recent-pages table is the costly part of a redraw (a rebuilt DataTable re-renders
        # every visible cell) and unreadable above ~1 update/s anyway: counters, rate and bar
        # follow every sample, the table and the error log every `_table_every`-th one.
        # Without a timer (tests) every sample updates everything.
        self._table_every = max(1, round(sample_hz / table_hz)) if sample_hz else 1
        self._samples = 0
        self.state: Status = Status.PENDING
        self.snapshot: ProgressSnapshot | None = None
        self._seq: int | None = None
        self._errors: list[str] = []
        self._live = False
        self._record_loaded = False

    @property
    def scraper(self) -> ScraperHost:
        return cast("ScraperHost", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="progress-body"):
            yield Label(Content(""), id="progress-status")
            yield Label(Content(""), id="progress-counters")
            with Horizontal(id="progress-rate"):
                yield Label(Content(""), id="progress-speed")
                yield Sparkline([], id="progress-sparkline")
            yield ProgressBar(total=100, show_eta=False, id="progress-bar")
            yield Label(Content(""), id="progress-hosts")
            yield RecentPagesTable(id="progress-recent")
            # Wrapped, not cut: an error quotes a URL and a reason, longer than 80 columns.
            yield RichLog(
                max_lines=MAX_LOG_LINES,
                id="progress-errors",
                auto_scroll=True,
                wrap=True,
                markup=False,
                highlight=False,
            )
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Session {self.session_id[:8]}"
        self.query_one("#progress-errors", RichLog).border_title = "Errors"
        self.scraper.sessions_changed.subscribe(self, self._changed)
        self.sample()
        self._watch()
        self.query_one(RecentPagesTable).focus()

    def on_screen_resume(self) -> None:
        self.sample()

    def _changed(self, session_id: str) -> None:
        if session_id == self.session_id:
            self._record_loaded = False
            self.sample()
            self._watch()  # (re)started: follow the new run

    def _watch(self) -> None:
        """Follow `service.watch` while the crawl runs (no timer without a rate: tests sample)."""
        if self.sample_hz:
            self.run_worker(self._follow, group="watch", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _follow(self) -> None:
        assert self.sample_hz
        async for snap in self.scraper.service.watch(self.session_id, hz=self.sample_hz):
            if self.app.screen is self:  # covered: on_screen_resume catches up
                self._take(snap)
        self._take(self.scraper.service.latest(self.session_id))

    # --- sampling -------------------------------------------------------------------------

    def sample(self) -> None:
        """Take the service's current snapshot once and redraw if anything moved."""
        if self.app.screen is not self and self.sample_hz:
            return  # covered by another screen: nothing to draw (on_screen_resume catches up)
        self._take(self.scraper.service.latest(self.session_id))

    def _take(self, snap: ProgressSnapshot | None) -> None:
        self._samples += 1
        if snap is not None:
            was_live, self._live = self._live, snap.live
            if snap.seq != self._seq or snap.status != self.state:
                full = not snap.live or self._samples % self._table_every == 0
                self.show(snap, tables=full)
            if was_live != self._live:
                self.refresh_bindings()
            if not snap.live and not self._record_loaded:
                self._load_record()
            return
        self._live = False
        if not self._record_loaded:
            self._load_record()

    def _load_record(self) -> None:
        self._record_loaded = True
        self.run_worker(self._read_record, group="record", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _read_record(self) -> None:
        record = await self.scraper.service.get(self.session_id)
        if self.session_id in self.scraper.service.running_ids() and self._live:
            return  # resumed meanwhile: the live stats win
        snap = snapshot_of_record(record)
        if self.snapshot is not None:
            # Keep what the live run showed (recent pages, errors, rate) under the final state.
            snap = replace(
                self.snapshot,
                status=record.status,
                progress=record.progress,
                live=False,
                host_states=snap.host_states,
            )
        self.show(snap)

    def show(self, snap: ProgressSnapshot, *, tables: bool = True) -> None:
        """Render one snapshot. Pure with respect to time: everything shown comes from `snap`.

        `tables=False` skips the recent-pages table and the error log (throttled redraws).
        """
        self.snapshot = snap
        self._seq = snap.seq
        state_changed = snap.status != self.state
        self.state = snap.status
        p = snap.progress
        with self.app.batch_update():
            style = STATUS_STYLE.get(snap.status, "")
            self.query_one("#progress-status", Label).update(
                Content.assemble(
                    (f"{snap.status.value.upper()}", style), "  ", safe_content(snap.target_url)
                )
            )
            self.query_one("#progress-counters", Label).update(
                Content(
                    f"done {p.done}   failed {p.failed}   skipped {p.skipped}   "
                    f"queued {p.queued}   fetching {p.fetching}"
                )
            )
            self.query_one("#progress-speed", Label).update(
                Content(
                    f"{human_rate(p.pages_per_s)}\n"
                    f"{human_bytes(p.bytes)} {human_duration(p.elapsed_s)}"
                )
            )
            # A new list each time: Sparkline.data compares by equality, an edited list is unseen.
            self.query_one(Sparkline).data = list(snap.rate_history)
            fraction = snap.fraction
            self.query_one(ProgressBar).update(
                total=100, progress=round((fraction or 0.0) * 100, 1)
            )
            hosts = "   ".join(f"{h}: {s}" for h, s in snap.host_states)
            self.query_one("#progress-hosts", Label).update(safe_content(hosts))
            self.query_one("#progress-hosts", Label).display = bool(hosts)
            if tables:
                recent = self.query_one(RecentPagesTable)
                recent.home = snap.target_url
                recent.show(snap.recent)
                fresh = new_tail(self._errors, snap.errors)
                self._errors = list(snap.errors)
                log = self.query_one(RichLog)
                for error in fresh:
                    # Text is never parsed as markup; control characters still need stripping.
                    log.write(Text(display_safe(error)))
        if state_changed:
            # Only when it matters: refresh_bindings recomposes the Footer, and doing that at
            # every sample cost the crawl a measurable share of its throughput.
            self.refresh_bindings()

    # --- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return self.state == Status.RUNNING or self.state in RESUMABLE or None
        if action == "cancel_crawl":
            # The service cancels only a live crawl; a stopped session
            # simply stays stopped, or is dismissed from the recovery screen.
            return self._live or None
        return True

    def disabled_reason(self, action: str) -> str | None:
        if action == "pause":
            return f"This session is {self.state.value}: there is nothing to pause or resume"
        if action == "cancel_crawl":
            return f"This session is {self.state.value}, not running: there is nothing to cancel"
        return None

    async def action_pause(self) -> None:
        if self._live and self.scraper.service.pause(self.session_id):
            # Returns at once; the crawl checkpoints, then becomes paused.
            self.scraper.say(f"Pausing {self.session_id[:8]}…")
        elif self.state in RESUMABLE:
            self.post_message(messages.ResumeSession(self, self.session_id, show=False))

    @on(messages.SessionResumed)
    def _resumed(self) -> None:
        self._record_loaded = False
        self.sample()

    def action_cancel_crawl(self) -> None:
        if not self.check_action("cancel_crawl", ()):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel()

        self.app.push_screen(
            ConfirmScreen(
                Content(
                    "Cancel this crawl? The session becomes failed (cancelled) and cannot be "
                    "resumed. Pages fetched so far are kept."
                ),
                yes="Cancel crawl",
                no="Keep crawling",
            ),
            answered,
        )

    def _cancel(self) -> None:
        if self.scraper.service.cancel(self.session_id):
            self.scraper.say(f"Cancelling {self.session_id[:8]}…")

    def action_details(self) -> None:
        self.post_message(messages.ShowDetail(self, self.session_id))

    def action_back(self) -> None:
        self.dismiss(None)

    def palette_commands(self) -> list[tuple[str, object, str]]:
        commands: list[tuple[str, object, str]] = []
        if self.check_action("pause", ()):
            label = "Pause this crawl" if self._live else "Resume this crawl"
            commands.append((label, self.action_pause, "p"))
        if self.check_action("cancel_crawl", ()):
            commands.append(("Cancel this crawl", self.action_cancel_crawl, "c"))
        commands.append(("Show session details", self.action_details, "i"))
        return commands
