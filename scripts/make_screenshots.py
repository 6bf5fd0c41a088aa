#!/usr/bin/env python3
"""Regenerate screenshots/*.svg from real runs of the app against the built-in demo site.

    python scripts/make_screenshots.py [--out screenshots]

Everything is real and as a user gets it: the app with `background=True` (as `run_app` starts
it), so every crawl runs in a worker process of its own that the app follows over its live
channel; the store in a throw-away data directory under /tmp (short: a worker's socket path
must fit AF_UNIX); the demo server on 127.0.0.1. Screens are driven by key presses through
Textual's headless `run_test` and saved with `save_screenshot` (harlequin's
export_screenshots pattern). Each shot waits on a condition (live counters, a dialog mounted),
not on a fixed sleep. Every worker the script started is stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Label

from tui_scraper.backends.sqlite.lease import LOCKS_DIRNAME, owner_alive, read_owner
from tui_scraper.demo import HOSTILE_PATH, DemoServer
from tui_scraper.domain import CrawlConfig, ExtractRule, Status
from tui_scraper.domain.location import StoreLocation
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.analytics import CompareScreen
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.export import ExportScreen
from tui_scraper.ui.screens.help import KeyHelpScreen
from tui_scraper.ui.screens.new_session import NewSessionScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.quit import QuitScreen
from tui_scraper.ui.screens.recovery import RecoveryScreen
from tui_scraper.ui.screens.sessions import SessionsScreen
from tui_scraper.ui.screens.tune import TuneScreen
from tui_scraper.ui.widgets.recent_pages import RecentPagesTable

SIZE = (100, 30)
# The live crawl of the shots: paced so that it is still running after every live shot
# (progress, tune, cancel, background list, reconnecting, quit), whatever the machine.
LIVE_MAX_PAGES = "120"
LIVE_RATE = "2"
# Pages done before the progress shot: counters, a rate and a sparkline worth showing.
LIVE_DONE = 16
# The "reconnecting in N s" countdown of the reconnecting shot: at least this many seconds.
RECONNECT_SHOWN = 2.5
# How long a stopped worker is given for its final checkpoint before it is killed.
STOP_GRACE_S = 10.0

Condition = Callable[[], bool | Awaitable[bool]]


async def until(pilot: Pilot[Any], condition: Condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not reach the expected state: {condition}")
        await pilot.pause(0.1)


async def settle(pilot: Pilot[Any]) -> None:
    """Let the screen finish drawing what it just received (layout, footer, focus)."""
    await pilot.pause(0.3)


def shot(app: ScraperApp, out: Path, name: str) -> None:
    path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    print("wrote", path)


def screen_text(app: ScraperApp) -> str:
    """The text on screen now (what the tmux tests read), to wait on what a shot must show."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def status_line(screen: ProgressScreen) -> str:
    return str(screen.query_one("#progress-status", Label).content)


def live_done(screen: ProgressScreen) -> int:
    snap = screen.snapshot
    return snap.progress.done if snap is not None and snap.live else 0


# --- the workers the script starts ---------------------------------------------------------


def worker_pids(data_dir: Path) -> list[int]:
    """The pid of every process holding a session's lease in `data_dir` (the workers)."""
    pids: list[int] = []
    locks = data_dir / LOCKS_DIRNAME
    for lock in sorted(locks.glob("*.lock")) if locks.is_dir() else []:
        if owner_alive(data_dir, lock.stem):
            pid = read_owner(data_dir, lock.stem).get("pid")
            if isinstance(pid, int) and pid != os.getpid():
                pids.append(pid)
    return pids


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # A worker leads a session of its own (setsid): its group holds its helpers too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@contextlib.contextmanager
def workers_stopped(data_dir: Path) -> Iterator[None]:
    """On the way out, however it is taken: SIGCONT (one may be stopped for a shot), SIGTERM
    (a final checkpoint), wait; SIGKILL what is still there after STOP_GRACE_S."""
    try:
        yield
    finally:
        pids = worker_pids(data_dir)
        for pid in pids:
            _signal_group(pid, signal.SIGCONT)
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while worker_pids(data_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in worker_pids(data_dir):
            print("killing worker", pid)
            _signal_group(pid, signal.SIGKILL)
        if pids:
            print("stopped workers", *pids)


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The worker frozen (SIGSTOP) as a stalled box would be, and always let go again."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# --- the runs --------------------------------------------------------------------------------


def background_app(data_dir: Path) -> ScraperApp:
    return ScraperApp(
        data_dir,
        background=True,
        sample_hz=4.0,
        cursor_blink=False,
        export_dir=Path("/tmp"),  # the export dialog's default folder, nothing is written
    )


async def first_run(data_dir: Path, url: str, out: Path) -> None:
    """A finished crawl, the form, a live crawl in a worker, and quitting while it runs."""
    app = background_app(data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        config = CrawlConfig(
            target_url=url,
            extract=(ExtractRule("heading", "h1"), ExtractRule("links", "a", "href")),
        )
        done_id = await app.create_and_start(config)

        async def completed() -> bool:
            return (await app.service.get(done_id)).status is Status.COMPLETED

        await until(pilot, completed, timeout=180)
        await until(
            pilot,
            lambda: isinstance(app.screen, ProgressScreen) and app.screen.state is Status.COMPLETED,
        )
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await settle(pilot)
        await pilot.press(*url, "tab", *LIVE_MAX_PAGES, "tab", *"3", "tab", "tab", "tab")
        await pilot.press(*LIVE_RATE, "tab", "tab", "tab", *"\\.pdf$")  # scope, include, exclude
        await settle(pilot)
        shot(app, out, "new_session")

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        live = app.screen
        assert isinstance(live, ProgressScreen)
        await until(pilot, lambda: live.background is not None, timeout=30)
        worker = live.background
        assert worker is not None and worker.pid != os.getpid()
        await until(pilot, lambda: live_done(live) >= LIVE_DONE, timeout=60)
        await until(pilot, lambda: live.check_action("tune", ()) is True)
        await settle(pilot)
        shot(app, out, "progress")

        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TuneScreen))
        await until(pilot, lambda: app.screen.query_one("#t-rate", Input).value == LIVE_RATE)
        await settle(pilot)
        shot(app, out, "tune")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is live)

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await settle(pilot)
        shot(app, out, "cancel_confirm")
        await pilot.press("n")  # keep crawling
        await until(pilot, lambda: app.screen is live)

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        home = app.screen
        assert isinstance(home, SessionsScreen)
        live_id = live.session_id
        table = home.query_one("#sessions-table")
        await until(pilot, lambda: home.background.get(live_id) is not None)
        table.move_cursor(row=table.get_row_index(live_id))  # type: ignore[attr-defined]
        await until(pilot, lambda: "running bg" in screen_text(app))
        await until(pilot, lambda: f"pid {worker.pid}" in screen_text(app))
        await settle(pilot)
        shot(app, out, "sessions_background")

        await pilot.press("enter")  # attaches: the live screen follows the worker
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        attached = app.screen
        assert isinstance(attached, ProgressScreen)
        await until(pilot, lambda: attached.background is not None and live_done(attached) > 0)
        recent = attached.query_one(RecentPagesTable)
        await until(pilot, lambda: recent.row_count > 0)  # the table redraws every 2 s
        with stopped(worker.pid):
            await until(pilot, lambda: "reconnecting in" in status_line(attached), timeout=30)
            # A few failed tries in, the backoff has grown: a countdown a person can read.
            with contextlib.suppress(TimeoutError):
                await until(pilot, lambda: (attached.reconnect_in() or 0) >= RECONNECT_SHOWN, 20)
            await until(pilot, lambda: "reconnecting in" in status_line(attached), timeout=30)
            shot(app, out, "reconnecting")
        await until(pilot, lambda: "reconnecting" not in status_line(attached), timeout=30)
        await until(pilot, lambda: live_done(attached) > 0, timeout=30)

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await settle(pilot)
        shot(app, out, "quit_confirm")
        await pilot.press("s")  # stop: a final checkpoint, then the recovery screen offers it
        await until(pilot, lambda: app.return_code is not None, timeout=30)
    for record in await _statuses(data_dir):
        print("session", record)


async def _statuses(data_dir: Path) -> list[str]:
    from tui_scraper.service.local import LocalSessionService

    service = await LocalSessionService.open(data_dir)
    try:
        return [f"{r.short_id} {r.status.value}" for r in await service.list_sessions()]
    finally:
        await service.close()


async def second_run(data_dir: Path, out: Path) -> None:
    """Start again: the recovery screen, the history, and the finished session in detail."""
    app = background_app(data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RecoveryScreen))
        await until(pilot, lambda: "quit while running" in screen_text(app))
        await settle(pilot)
        shot(app, out, "recovery")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        home = app.screen
        assert isinstance(home, SessionsScreen)
        await until(pilot, lambda: len(home.records) == 2)
        await settle(pilot)
        shot(app, out, "sessions")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeyHelpScreen))
        await settle(pilot)
        shot(app, out, "key_help")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is home)
        records = await app.service.list_sessions()
        done = next(r for r in records if r.status is Status.COMPLETED)
        app.show_detail(done.id)
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        detail = app.screen
        assert isinstance(detail, SessionDetailScreen)
        await until(pilot, lambda: bool(detail.pages))
        await settle(pilot)
        shot(app, out, "detail_summary")
        await pilot.press("2")
        await settle(pilot)
        hostile = next((i for i, p in enumerate(detail.pages) if HOSTILE_PATH in p.url), 0)
        detail.query_one("#pages-table").move_cursor(row=hostile)  # type: ignore[attr-defined]
        await settle(pilot)
        shot(app, out, "detail_pages")
        await pilot.press("3")
        await settle(pilot)
        shot(app, out, "detail_timeline")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        await settle(pilot)
        shot(app, out, "export")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is detail)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"show")
        await until(pilot, lambda: "Show" in screen_text(app))
        await pilot.pause(0.5)
        shot(app, out, "palette")
        await pilot.press("escape")
        await pilot.press("ctrl+q")  # nothing runs any more: no question
        await until(pilot, lambda: app.return_code is not None, timeout=10)


# The analytics shots: two runs of the demo crawl side by side, paced so that their figures
# span several of the 5 s intervals the analytics keep.
ANALYTICS_RATE = 6.0


async def analytics_run(data_dir: Path, url: str, out: Path) -> None:
    """Two finished runs of one crawl: the Analytics tab of one, then both compared."""
    app = background_app(data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        config = CrawlConfig(target_url=url, rate_per_host=ANALYTICS_RATE)
        first = await app.create_and_start(config)
        await pilot.press("escape")
        second = await app.create_and_start(config.with_changes(concurrency=4))
        await pilot.press("escape")

        async def finished() -> bool:
            states = [(await app.service.get(i)).status for i in (first, second)]
            return all(s is Status.COMPLETED for s in states)

        await until(pilot, finished, timeout=300)
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        app.show_detail(first)
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        await pilot.press("4")
        await until(pilot, lambda: "Responses by class" in screen_text(app))
        await settle(pilot)
        shot(app, out, "detail_analytics")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        table = app.screen.query_one("#sessions-table")
        table.move_cursor(row=table.get_row_index(first))  # type: ignore[attr-defined]
        await pilot.press("c")
        table.move_cursor(row=table.get_row_index(second))  # type: ignore[attr-defined]
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await until(pilot, lambda: "figures differ" in screen_text(app))
        await settle(pilot)
        shot(app, out, "compare")


async def schedules_run(data_dir: Path, url: str, out: Path) -> None:
    """The Schedules screen (w): two schedules and a queued crawl, as the CLI leaves them."""
    from tui_scraper.domain.schedules import ScheduleSpec
    from tui_scraper.service.planning import PlanningService
    from tui_scraper.ui.screens.schedules import SchedulesScreen

    planning = await PlanningService.open(StoreLocation(data_dir), who="cli")
    try:
        nightly = CrawlConfig(target_url=url, max_pages=500)
        await planning.add_schedule(ScheduleSpec(nightly, cron="0 3 * * *", tz="Europe/Paris"))
        news = CrawlConfig(target_url=f"{url.rstrip('/')}/news/")
        await planning.add_schedule(ScheduleSpec(news, every_s=6 * 3600.0, missed="skip"))
        await planning.queue(CrawlConfig(target_url=f"{url.rstrip('/')}/shop/", max_pages=100))
    finally:
        await planning.close()
    app = background_app(data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, (SessionsScreen, RecoveryScreen)))
        if isinstance(app.screen, RecoveryScreen):
            await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, SchedulesScreen))
        screen = app.screen
        assert isinstance(screen, SchedulesScreen)
        await until(pilot, lambda: len(screen.views) == 2 and len(screen.queued) == 1)
        await settle(pilot)
        shot(app, out, "schedules")
        await pilot.press("escape", "ctrl+q")
        await until(pilot, lambda: app.return_code is not None, timeout=10)


async def main(out: Path, only: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    server = DemoServer()
    url = await server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="shots-", dir="/tmp") as tmp:
            data_dir = Path(tmp)
            with workers_stopped(data_dir):
                if only in (None, "analytics"):
                    await analytics_run(data_dir, url, out)
                if only is None:
                    await first_run(data_dir, url, out)
                    await second_run(data_dir, out)
                if only in (None, "schedules"):
                    await schedules_run(data_dir, url, out)
    finally:
        await server.stop()
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "screenshots")
    parser.add_argument("--only", choices=("analytics", "schedules"), help="only these shots")
    args = parser.parse_args()
    asyncio.run(main(args.out, args.only))
