"""Live progress of one session, from the service's progress snapshots.

The screen only receives frozen `ProgressSnapshot`s (from `service.watch`, a few a second, or
`service.latest` when a test samples by hand); the crawl belongs to the service, so leaving
this screen (escape) does not stop it, and coming back shows it as it is.

A session that runs in a background worker (no crawl of it in this process, and its lease held
by another process) is followed over the worker's live channel (`service.watch_worker`) and
drawn the same way; pause, cancel and tuning go to the worker (`command_worker`, `tune`).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Label, ProgressBar, RichLog, Sparkline

from tui_scraper.domain import RESUMABLE, ScraperError, SessionRecord, Status
from tui_scraper.service import CommandDelivery, ProgressSnapshot, Tuning, WorkerInfo
from tui_scraper.service.delivery import outcome_text

from .. import messages
from ..text import display_safe, human_bytes, human_duration, human_rate, safe_content
from ..widgets.footer import KeysFooter
from ..widgets.live_label import update_label
from ..widgets.recent_pages import RecentPagesTable
from ..widgets.status import STATUS_STYLE
from ..widgets.tail import new_tail
from ..widgets.worker import worker_label
from .confirm import ConfirmScreen
from .tune import TuneScreen

if TYPE_CHECKING:
    from ..host import ScraperHost

MAX_LOG_LINES = 500
# How often the slow parts are drawn during a crawl: the recent-pages table (a DataTable draws
# every visible cell again at any change, and at speed every row shows a new page each time),
# the sparkline (one bar a second) and the error log. In a real terminal the table's redraws
# were most of what the screen cost the crawl; every 2 s leaves the rows still for a reader.
TABLE_HZ = 0.5
# How often the "reconnecting in N s" countdown is redrawn while a worker's channel is lost.
COUNTDOWN_HZ = 4.0
# How long the screen waits, after a worker's last snapshot, for the store to record its end
# (the worker releases its lease just after it sends the final state).
SETTLE_S = 3.0
GONE_ERROR = "the process running it is gone"
# The actions whose keys the footer shows or hides as the session's state changes.
OFFERED_ACTIONS = ("pause", "cancel_crawl", "tune")


def snapshot_of_record(record: SessionRecord) -> ProgressSnapshot:
    """What a stopped session looks like to this screen: its stored progress, nothing live."""
    return ProgressSnapshot.of_record(record)


def as_gone(record: SessionRecord) -> SessionRecord:
    """A `running` record whose lease nobody holds: what the next writer records, interrupted."""
    if record.status is not Status.RUNNING:
        return record
    return replace(record, status=Status.INTERRUPTED, error=record.error or GONE_ERROR)


def reconnect_text(seconds: float | None) -> str:
    """The status line's note while a worker's channel is lost."""
    if seconds is None:
        return ""
    whole = math.ceil(seconds)
    return f"reconnecting in {whole} s" if whole > 0 else "reconnecting…"


class ProgressScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause/resume", id="progress.pause"),
        Binding("c", "cancel_crawl", "Cancel crawl", id="progress.cancel"),
        Binding("t", "tune", "Tune", id="progress.tune"),
        Binding("i", "details", "Details", id="progress.details"),
        Binding("escape", "back", "Back", id="progress.back"),
        # The README's promise: q quits while it runs (asks, then checkpoints; app.quit).
        Binding("q", "app.quit", "Quit", id="progress.quit"),
    ]

    def __init__(
        self,
        session_id: str,
        *,
        sample_hz: float | None = 4.0,
        table_hz: float = TABLE_HZ,
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.sample_hz = sample_hz
        # Counters, rate and bar follow every snapshot; the recent-pages table, the sparkline
        # and the error log at most `table_hz` times a second (see TABLE_HZ). Without a timer
        # (tests that sample by hand) every snapshot draws everything.
        self._table_period = 1.0 / table_hz if sample_hz else 0.0
        # Loop time of the last drawing of the slow parts, and the timer that draws the ones a
        # throttled snapshot left behind (so they reach the screen even if no snapshot follows).
        self._tables_at: float | None = None
        self._tables_due: Timer | None = None
        self.state: Status = Status.PENDING
        self.snapshot: ProgressSnapshot | None = None
        self._seq: int | None = None
        self._errors: list[str] = []
        self._live = False
        self._record_loaded = False
        # The background worker this screen follows over its channel (None: the crawl runs in
        # this process, or nothing runs it), its last snapshot, and while the channel is lost
        # the loop time of the next reconnect attempt.
        self.background: WorkerInfo | None = None
        self._remote: ProgressSnapshot | None = None
        self._reconnect_at: float | None = None
        self._countdown_started = False
        # What each label shows, so that a sample redraws only the ones that changed.
        self._shown: dict[str, Content] = {}
        # What the footer offers (check_action of each of OFFERED_ACTIONS), as last drawn.
        self._offered: tuple[bool | None, ...] | None = None

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
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = f"Session {self.session_id[:8]}"
        self.query_one("#progress-errors", RichLog).border_title = "Errors"
        self.scraper.sessions_changed.subscribe(self, self._changed)
        # The footer was composed with the keys offered now.
        self._offered = tuple(self.check_action(action, ()) for action in OFFERED_ACTIONS)
        self.sample()
        self._watch()
        self.query_one(RecentPagesTable).focus()

    def on_screen_resume(self) -> None:
        self._tables_at = None  # shown again: everything drawn now, the table too
        self.sample()

    def _changed(self, session_id: str) -> None:
        if session_id == self.session_id:
            self._record_loaded = False
            self.sample()
            self._watch()  # (re)started: follow the new run

    def _in_process(self) -> bool:
        return self.session_id in self.scraper.service.running_ids()

    def _watch(self) -> None:
        """Follow `service.watch` while the crawl runs here (no timer without a rate: tests
        sample), else the session's background worker, if one runs it."""
        if self._in_process():
            if self.sample_hz:
                self.run_worker(self._follow, group="watch", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]
            return
        self.run_worker(self._follow_worker, group="watch", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _follow(self) -> None:
        assert self.sample_hz
        async for snap in self.scraper.service.watch(self.session_id, hz=self.sample_hz):
            if self.app.screen is self:  # covered: on_screen_resume catches up
                self._take(snap)
        self._take(self.scraper.service.latest(self.session_id))

    # --- a crawl in a background worker ---------------------------------------------------

    async def _follow_worker(self) -> None:
        """Follow the worker's channel until its crawl ends or the worker is gone."""
        service = self.scraper.service
        # Reads the lease file: off the event loop.
        worker = await asyncio.to_thread(service.worker_of, self.session_id)
        if worker is None:
            # Nothing runs it (any more): the stored record is the whole story. Settled here,
            # not left to a sample: this watch may have replaced one that was following the
            # worker as it ended, with its last live figures still on screen.
            if self.snapshot is not None and self.snapshot.live:
                await self._settle(self._remote or self.snapshot)
            return
        self.background = worker
        label = worker_label(worker, now=None)
        self.sub_title = f"Session {self.session_id[:8]} · worker {label}"
        self._refresh_keys()
        last: ProgressSnapshot | None = None
        try:
            async for snap in service.watch_worker(self.session_id):
                last = snap
                self._remote = snap
                self._set_reconnect(snap.reconnect_in)
                if self.app.screen is self:  # covered: on_screen_resume catches up
                    self._take(snap)
                    self._draw_status()
        except ScraperError as exc:
            # e.g. a worker of another protocol version: said once, the stored record shown.
            self.scraper.say(
                f"Cannot follow the worker of {self.session_id[:8]}: {exc}", severity="warning"
            )
        finally:
            self.background = None
            self._set_reconnect(None)
        await self._settle(last)

    def _set_reconnect(self, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._reconnect_at = None if seconds is None else loop.time() + seconds
        if seconds is not None and not self._countdown_started:
            self._countdown_started = True
            self.set_interval(1 / COUNTDOWN_HZ, self._draw_status)

    def reconnect_in(self) -> float | None:
        """Seconds to the next reconnect attempt while the worker's channel is lost."""
        if self._reconnect_at is None:
            return None
        return max(0.0, self._reconnect_at - asyncio.get_running_loop().time())

    async def _settle(self, last: ProgressSnapshot | None) -> None:
        """The watch ended: show the final state the store records, or, when the worker died
        (its lease is free), the session as interrupted."""
        service = self.scraper.service
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        while True:
            record = await service.get(self.session_id)
            if record.status is not Status.RUNNING or self._in_process():
                break
            if await asyncio.to_thread(service.worker_of, self.session_id) is None:
                record = as_gone(record)
                break
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        if self._in_process():
            return  # resumed here meanwhile: the live stats win
        base = self.snapshot or last or snapshot_of_record(record)
        snap = replace(
            base,
            status=record.status,
            progress=record.progress,
            live=False,
            reconnect_in=None,
            host_states=snapshot_of_record(record).host_states,
        )
        self._remote = None
        self._record_loaded = True
        self._live = False
        self.sub_title = f"Session {self.session_id[:8]}"
        self.show(snap)
        self._draw_status()
        self._refresh_keys()

    # --- sampling -------------------------------------------------------------------------

    def sample(self) -> None:
        """Take the service's current snapshot once and redraw if anything moved."""
        if self.app.screen is not self and self.sample_hz:
            return  # covered by another screen: nothing to draw (on_screen_resume catches up)
        if self.background is not None and self._remote is not None:
            self._take(self._remote)  # a background worker's figures: the last ones received
            self._draw_status()
            return
        self._take(self.scraper.service.latest(self.session_id))

    def _take(self, snap: ProgressSnapshot | None) -> None:
        if snap is not None:
            was_live, self._live = self._live, snap.live
            if snap.seq != self._seq or snap.status != self.state:
                self.show(snap, tables=not snap.live or self._tables_now())
            if was_live != self._live:
                self._refresh_keys()
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
        service = self.scraper.service
        record = await service.get(self.session_id)
        if self.session_id in service.running_ids() and self._live:
            return  # resumed meanwhile: the live stats win
        if self.background is not None:
            return  # a background worker runs it: its snapshots win
        if record.status is Status.RUNNING and not self._in_process():
            if await asyncio.to_thread(service.worker_of, self.session_id) is not None:
                return  # a background worker runs it: `_follow_worker` draws it
            record = as_gone(record)
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

    def _tables_now(self) -> bool:
        """Whether a live snapshot may draw the slow parts now; if not, they are drawn from the
        latest snapshot when their period is up."""
        if not self._table_period:
            return True
        now = asyncio.get_running_loop().time()
        if self._tables_at is None or now - self._tables_at >= self._table_period:
            return True
        if self._tables_due is None:
            wait = self._table_period - (now - self._tables_at)
            self._tables_due = self.set_timer(wait, self._draw_due_tables)
        return False

    def _draw_due_tables(self) -> None:
        self._tables_due = None
        if self.snapshot is not None and self.app.screen is self:
            self.show(self.snapshot)  # covered: on_screen_resume draws everything anyway

    def show(self, snap: ProgressSnapshot, *, tables: bool = True) -> None:
        """Render one snapshot. Pure with respect to time: everything shown comes from `snap`.

        `tables=False` skips the slow parts (recent pages, sparkline, error log: throttled).
        """
        if tables:
            self._tables_at = asyncio.get_running_loop().time()
            if self._tables_due is not None:
                self._tables_due.stop()
                self._tables_due = None
        self.snapshot = snap
        self._seq = snap.seq
        state_changed = snap.status != self.state
        self.state = snap.status
        p = snap.progress
        with self.app.batch_update():
            self._draw_status()
            self._label(
                "#progress-counters",
                Content(
                    f"done {p.done}   failed {p.failed}   skipped {p.skipped}   "
                    f"queued {p.queued}   fetching {p.fetching}"
                ),
            )
            self._label(
                "#progress-speed",
                Content(
                    f"{human_rate(p.pages_per_s)}\n"
                    f"{human_bytes(p.bytes)} {human_duration(p.elapsed_s)}"
                ),
            )
            fraction = snap.fraction
            self.query_one(ProgressBar).update(
                total=100, progress=round((fraction or 0.0) * 100, 1)
            )
            hosts = "   ".join(f"{h}: {s}" for h, s in snap.host_states)
            if self._label("#progress-hosts", safe_content(hosts)):
                self.query_one("#progress-hosts", Label).display = bool(hosts)
            if tables:
                # A new list: Sparkline.data compares by equality, an edited list is unseen. Its
                # last bar is the current second, still growing: drawn with the table, not at
                # every snapshot.
                self.query_one(Sparkline).data = list(snap.rate_history)
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
            self._refresh_keys()

    def _refresh_keys(self) -> None:
        """Redraw the footer if the keys it offers changed. Only then: refresh_bindings
        recomposes the whole Footer (its keys are mounted again), which costs more than every
        other part of a redraw together; a crawl that starts changes state, liveness and
        background within a moment, mostly to the same keys."""
        offered = tuple(self.check_action(action, ()) for action in OFFERED_ACTIONS)
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    def _draw_status(self) -> None:
        """The status line: state, start URL and, while a worker's channel is lost, when the
        next reconnect attempt is (counting down)."""
        snap = self.snapshot
        if snap is None:
            return
        style = STATUS_STYLE.get(snap.status, "")
        note = reconnect_text(self.reconnect_in()) if self.background is not None else ""
        parts: list[Content | tuple[str, str] | str] = [(snap.status.value.upper(), style)]
        if note:
            parts += ["  ", (note, "bold yellow")]
        parts += ["  ", safe_content(snap.target_url)]
        self._label("#progress-status", Content.assemble(*parts))

    def _label(self, selector: str, content: Content) -> bool:
        """Redraw one of the screen's labels if what it shows changed; whether it did."""
        return update_label(self.query_one(selector, Label), content, self._shown)

    # --- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return self.state == Status.RUNNING or self.state in RESUMABLE or None
        if action == "cancel_crawl":
            # The service cancels only a live crawl; a stopped session
            # simply stays stopped, or is dismissed from the recovery screen.
            return self._live or None
        if action == "tune":
            # Offered for a crawl in a worker, which is every crawl of the real app. A crawl
            # in this process (the in-process mode the Pilot tests drive) keeps the footer it
            # had: at 80 columns there is no room for one more key beside "? Keys".
            if self.background is None:
                return False
            return self._live or None
        return True

    def disabled_reason(self, action: str) -> str | None:
        if action == "pause":
            return f"This session is {self.state.value}: there is nothing to pause or resume"
        if action == "cancel_crawl":
            return f"This session is {self.state.value}, not running: there is nothing to cancel"
        if action == "tune":
            return f"This session is {self.state.value}, not running: there is nothing to tune"
        return None

    async def action_pause(self) -> None:
        if self._live and self.background is not None:
            self._command_worker("pause")
        elif self._live and self.scraper.service.pause(self.session_id):
            # Returns at once; the crawl checkpoints, then becomes paused.
            self.scraper.say(f"Pausing {self.session_id[:8]}…")
        elif self.state in RESUMABLE:
            self.post_message(messages.ResumeSession(self, self.session_id, show=False))

    def _command_worker(self, command: str) -> None:
        """Send `pause` or `cancel` to the background worker (a screen worker: the answer may
        take a moment, over the channel or a control record) and say what it did."""

        async def send() -> None:
            try:
                delivery = await self.scraper.service.command_worker(self.session_id, command)
            except ScraperError as exc:
                self.scraper.say(str(exc), severity="warning")
                return
            self.scraper.say(
                f"{command.capitalize()} sent to {self.session_id[:8]}: {_outcome(delivery)}"
            )

        self.run_worker(send, group="command", exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

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
        if self.background is not None:
            self._command_worker("cancel")
        elif self.scraper.service.cancel(self.session_id):
            self.scraper.say(f"Cancelling {self.session_id[:8]}…")

    def action_tune(self) -> None:
        if not self.check_action("tune", ()):
            return

        def sent(result: tuple[Tuning, CommandDelivery] | None) -> None:
            if result is not None:
                tuning, delivery = result
                self.scraper.say(
                    f"Tuned {self.session_id[:8]} ({tuning.describe()}): {_outcome(delivery)}"
                )

        self.app.push_screen(TuneScreen(self.session_id), sent)

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
        if self.check_action("tune", ()):
            commands.append(("Tune this crawl: rate, concurrency, excludes", self.action_tune, "t"))
        commands.append(("Show session details", self.action_details, "i"))
        return commands


def _outcome(delivery: CommandDelivery) -> str:
    """What the worker said it did, or that it has the command and applies it shortly."""
    return outcome_text(delivery)
