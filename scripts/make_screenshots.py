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
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

from aiohttp import web
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, Static

from tui_scraper.backends.sqlite.lease import LOCKS_DIRNAME, owner_alive, read_owner
from tui_scraper.demo import HOSTILE_PATH, DemoServer
from tui_scraper.demo.conditional import not_modified, validators
from tui_scraper.domain import CrawlConfig, ExtractRule, Status
from tui_scraper.domain.location import StoreLocation
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.analytics import CompareScreen
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.diff import DiffScreen
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


# --- the Diff view: a site that changes between two crawls -----------------------------------


def _page(title: str, paragraphs: list[str], links: list[tuple[str, str]]) -> bytes:
    text = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    items = "".join(f'<li><a href="{href}">{label}</a></li>\n' for href, label in links)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>\n"
        f"<h1>{title}</h1>\n{text}<ul>\n{items}</ul>\n</body></html>\n"
    ).encode()


_NAV = [
    ("/", "Home"),
    ("/pricing.html", "Pricing"),
    ("/docs/install.html", "Install"),
    ("/docs/config.html", "Configuration"),
    ("/blog/launch.html", "Launch notes"),
    ("/about.html", "About"),
    ("/jobs.html", "Jobs"),
]
_PAGES_BEFORE = {
    "/": _page("Acme Crawling Co.", ["Fast, exact, resumable web crawls."], _NAV),
    "/pricing.html": _page(
        "Pricing",
        [
            "Starter: 5 sessions, 10,000 pages a month, $9.",
            "Team: 50 sessions, 500,000 pages a month, $49.",
            "Support by email within two working days.",
        ],
        _NAV[:1],
    ),
    "/docs/install.html": _page(
        "Install",
        [
            "Python 3.10 or later.",
            "pip install acme-crawler",
            "Run acme-crawler demo to try it on the built-in site.",
        ],
        _NAV[:1],
    ),
    "/docs/config.html": _page(
        "Configuration", ["Every option has a default; none is required."], _NAV[:1]
    ),
    "/blog/launch.html": _page("Launch notes", ["Version 1.0 is out."], _NAV[:1]),
    "/about.html": _page("About", ["A small team that likes exact numbers."], _NAV[:1]),
    "/jobs.html": _page("Jobs", ["We are hiring a backend engineer."], _NAV[:1]),
}
# The recrawl's site: two pages edited (one now links a new page), one deleted, the rest as is.
_PAGES_AFTER = {
    **{path: body for path, body in _PAGES_BEFORE.items() if path != "/jobs.html"},
    "/pricing.html": _page(
        "Pricing",
        [
            "Starter: 5 sessions, 20,000 pages a month, $9.",
            "Team: 50 sessions, 1,000,000 pages a month, $59.",
            "Enterprise: unlimited sessions, a PostgreSQL store of your own; ask us.",
            "Support by email within two working days.",
        ],
        _NAV[:1],
    ),
    "/docs/install.html": _page(
        "Install",
        [
            "Python 3.11 or later.",
            "pip install acme-crawler",
            "Run acme-crawler demo to try it on the built-in site.",
        ],
        [*_NAV[:1], ("/docs/upgrade.html", "Upgrading from 1.x")],
    ),
    "/docs/upgrade.html": _page(
        "Upgrading from 1.x", ["Sessions are migrated on first start."], _NAV[:1]
    ),
}


class ChangingSite:
    """A few static pages on 127.0.0.1 that the script edits between two crawls, answering
    conditional requests as a static file server does (ETag and Last-Modified, 304)."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages: dict[str, tuple[bytes, str]] = {}
        self._clock = 1_717_200_000
        self.replace(pages)
        self._runner: web.AppRunner | None = None

    def replace(self, pages: dict[str, bytes]) -> None:
        """The site's pages from now on; a page whose bytes changed gets a newer mtime."""
        self._clock += 3600
        stamp = formatdate(self._clock, usegmt=True)
        old = self.pages
        self.pages = {
            path: old[path] if path in old and old[path][0] == body else (body, stamp)
            for path, body in pages.items()
        }

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        found = self.pages.get(request.path)
        if found is None:
            return web.Response(status=404, text="not found")
        body, modified = found
        headers = validators(body, modified)
        if not_modified(request.method, request.headers, headers["ETag"], modified):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)


async def _cli_session(data_dir: Path, *args: str) -> str:
    """Run `tui-scraper ARGS --headless` on `data_dir` to its end; the session id it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_scraper",
        "--data-dir",
        str(data_dir),
        *args,
        "--headless",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"tui-scraper {' '.join(args)}: exit {proc.returncode}: {err!r}")
    return out.decode().split()[0]


async def diff_run(data_dir: Path, out: Path) -> None:
    """A crawl, the site edited, a recrawl, then the app on the recrawl's detail, `d` and Enter
    on a changed page: the Diff view with that page's text diff."""
    site = ChangingSite(_PAGES_BEFORE)
    url = await site.start()
    try:
        # Both crawls by the command line, as a script or cron would run them.
        first = await _cli_session(data_dir, "crawl", url)
        site.replace(_PAGES_AFTER)
        second = await _cli_session(data_dir, "recrawl", first)
        app = background_app(data_dir)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
            app.show_detail(second)
            await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
            await until(pilot, lambda: app.screen.record is not None)  # type: ignore[attr-defined]
            await pilot.press("d")
            await until(
                pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.loaded is not None
            )
            screen = app.screen
            assert isinstance(screen, DiffScreen)
            pricing = next(i for i, e in enumerate(screen.rows) if e.url.endswith("/pricing.html"))
            table = screen.query_one("#diff-table", DataTable)
            table.focus()
            table.move_cursor(row=pricing)
            await pilot.press("enter")
            pane = screen.query_one("#diff-text", Static)
            await until(pilot, lambda: "+Team" in str(pane.render()))
            await settle(pilot)
            shot(app, out, "diff")
            await pilot.press("escape", "escape", "ctrl+q")
            await until(pilot, lambda: app.return_code is not None, timeout=10)
    finally:
        await site.stop()


async def main(out: Path, only: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    server = DemoServer()
    url = await server.start()

    @contextlib.contextmanager
    def fresh_data_dir() -> Iterator[Path]:
        # A data dir of its own per run: each run's screens show its own sessions only.
        with tempfile.TemporaryDirectory(prefix="shots-", dir="/tmp") as tmp:
            data_dir = Path(tmp)
            with workers_stopped(data_dir):
                yield data_dir

    try:
        if only in (None, "analytics"):
            with fresh_data_dir() as data_dir:
                await analytics_run(data_dir, url, out)
        if only is None:
            with fresh_data_dir() as data_dir:
                await first_run(data_dir, url, out)
                await second_run(data_dir, out)
        if only in (None, "schedules"):
            with fresh_data_dir() as data_dir:
                await schedules_run(data_dir, url, out)
        if only in (None, "diff"):
            with fresh_data_dir() as data_dir:
                await diff_run(data_dir, out)
    finally:
        await server.stop()
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "screenshots")
    parser.add_argument(
        "--only", choices=("analytics", "schedules", "diff"), help="only these shots"
    )
    args = parser.parse_args()
    asyncio.run(main(args.out, args.only))
