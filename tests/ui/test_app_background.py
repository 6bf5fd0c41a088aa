"""The app runs its crawls in background workers (`background=True`, as `run_app` does).

Real processes throughout: the app opens the real local service over a temp data dir, each
crawl it starts runs in a worker process of its own (its lease names another pid), against the
tests' own site on 127.0.0.1 or the demo site the worker serves. Quit asks: keep crawling
(the default), pause, stop. Judged by the store and the site's log, never by the live screen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Label

from tests.engine.invariants import assert_store_invariants, page_states
from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import (
    done_pages,
    events,
    kill_workers,
    lease_held,
    session_row,
    status_of,
    wait_for,
)
from tui_scraper.backends.sqlite.lease import read_owner
from tui_scraper.domain import CrawlConfig, Status
from tui_scraper.ui.app import QUIT_REASON, ScraperApp
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.quit import QuitScreen
from tui_scraper.ui.screens.recovery import RecoveryScreen

from .helpers import screen_text, toasts, until

PAGES = 60
CRAWL_TIMEOUT_S = 90.0  # a loaded 2-core machine, four test runs at once


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "d"  # short: the worker's socket path must fit AF_UNIX
    path.mkdir()
    yield path
    kill_workers(path)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES, filler=5)).start()
    yield server
    server.stop()


async def create_session(data_dir: Path, url: str, **config: Any) -> str:
    """A pending session, made the way the CLI makes one (no crawl started)."""
    from tui_scraper.service.local import LocalSessionService

    service = await LocalSessionService.open(data_dir, who="test")
    try:
        return (await service.create(CrawlConfig(target_url=url, **config))).id
    finally:
        await service.close()


def paced(site: SiteServer) -> CrawlConfig:
    """The site at 8 requests/s: 60 pages take several seconds, time to quit meanwhile."""
    return CrawlConfig(target_url=f"{site.base}/", rate_per_host=8)


def background_app(data_dir: Path, **kwargs: object) -> ScraperApp:
    return ScraperApp(data_dir, background=True, sample_hz=None, cursor_blink=False, **kwargs)  # type: ignore[arg-type]


def only_session(data_dir: Path) -> str | None:
    from tests.engine.invariants import connect_ro

    if not (data_dir / "scraper.db").exists():
        return None
    db = connect_ro(data_dir)
    try:
        rows = db.execute("SELECT id FROM sessions").fetchall()
    finally:
        db.close()
    return str(rows[0][0]) if len(rows) == 1 else None


def worker_pid_of(data_dir: Path, session_id: str) -> int | None:
    if not lease_held(data_dir, session_id):
        return None
    pid = read_owner(data_dir, session_id).get("pid")
    return pid if isinstance(pid, int) else None


async def until_in_a_worker(pilot, data_dir: Path) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """The app's crawl runs, and its lease is held by a process that is not this one."""
    found: dict[str, object] = {}

    def running_elsewhere() -> bool:
        session_id = only_session(data_dir)
        pid = worker_pid_of(data_dir, session_id) if session_id else None
        found.update(id=session_id, pid=pid)
        return pid is not None and pid != os.getpid()

    await until(pilot, running_elsewhere, timeout=30)
    return str(found["id"]), int(found["pid"])  # type: ignore[call-overload]


def assert_every_page_once(data_dir: Path, site: SiteServer) -> None:
    assert set(page_states(data_dir).values()) == {"done"}
    assert done_pages(data_dir) == PAGES
    hits = site.hits()
    del hits["/robots.txt"]  # asked again by each run
    assert all(n == 1 for n in hits.values()), hits.most_common(3)
    assert_store_invariants(data_dir)


async def test_the_form_starts_a_worker_that_completes_every_page_once(
    data_dir: Path, site: SiteServer
) -> None:
    app = background_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*f"{site.base}/", "tab", "tab", "tab", "tab", "tab", *"20")
        assert app.screen.values()["rate"] == "20"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), timeout=30)
        session_id, pid = await until_in_a_worker(pilot, data_dir)
        assert not app.service.running_ids()  # nothing crawls in the app's own loop
        worker = app.service.worker_of(session_id)
        assert worker is not None and worker.pid == pid != os.getpid()
        assert (data_dir / "logs" / f"{session_id}.log").exists()
        await until(pilot, lambda: status_of(data_dir, session_id) == "completed", CRAWL_TIMEOUT_S)
        # The app follows the worker it started: the end is told.
        await until(pilot, lambda: f"Session {session_id[:8]} completed" in toasts(app))
        await pilot.press("escape", "q")  # nothing runs any more: leaves at once
        await until(pilot, lambda: app.return_code == 0)
    assert_every_page_once(data_dir, site)


async def test_quit_keep_exits_at_once_and_the_worker_completes(
    data_dir: Path, site: SiteServer
) -> None:
    # `tui-scraper crawl URL` in the app.
    app = background_app(data_dir, new_config=paced(site))
    async with app.run_test(size=(100, 30)) as pilot:
        session_id, pid = await until_in_a_worker(pilot, data_dir)
        await until(pilot, lambda: done_pages(data_dir) > 0, timeout=30)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        dialog = app.screen
        assert isinstance(dialog, QuitScreen)
        text = screen_text(app)
        assert session_id[:8] in text and site.base.split("//")[1] in text
        assert "Keep crawling in the background" in text and "Pause" in text
        assert dialog.focused is dialog.query_one("#keep", Button)  # the default
        await pilot.press("enter")
        await until(pilot, lambda: app.return_code == 0, timeout=5)
    # The app is gone; its worker is not, and nothing was marked.
    assert status_of(data_dir, session_id) == "running"
    assert worker_pid_of(data_dir, session_id) == pid
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=CRAWL_TIMEOUT_S)
    assert all(to != "interrupted" for to, _r, _w in events(data_dir, session_id))
    assert_every_page_once(data_dir, site)


async def test_quit_pause_checkpoints_then_resume_completes_in_a_worker(
    data_dir: Path, site: SiteServer
) -> None:
    session_id = await create_session(data_dir, f"{site.base}/", rate_per_host=5)
    # `tui-scraper resume ID` in the app.
    app = background_app(data_dir, resume=session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_in_a_worker(pilot, data_dir)
        await until(pilot, lambda: done_pages(data_dir) > 0, timeout=30)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        dialog = app.screen
        assert isinstance(dialog, QuitScreen)
        await pilot.press("p")
        status = dialog.query_one("#quit-status", Label)
        # It says what it waits for, and takes no other answer meanwhile.
        assert "Pausing 1 crawl" in str(status.content)
        assert all(button.disabled for button in dialog.query(Button))
        await until(pilot, lambda: app.return_code == 0, timeout=10)
    assert status_of(data_dir, session_id) == "paused"
    assert not lease_held(data_dir, session_id)
    before = done_pages(data_dir)
    assert 0 < before < PAGES

    app = background_app(data_dir, resume=session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        _, pid = await until_in_a_worker(pilot, data_dir)
        assert pid != os.getpid()
        await until(pilot, lambda: status_of(data_dir, session_id) == "completed", CRAWL_TIMEOUT_S)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app.return_code == 0, timeout=5)
    assert_every_page_once(data_dir, site)


async def test_quit_stop_then_recovery_offers_it_and_r_completes_it_in_a_worker(
    data_dir: Path,
) -> None:
    """The README's story: the demo, quit while it runs (Stop), start again, press r."""
    from tui_scraper.demo import expected_pages
    from tui_scraper.demo.session import DEMO_DOWNLOADS

    app = background_app(data_dir, demo=True)
    async with app.run_test(size=(100, 30)) as pilot:
        session_id, _pid = await until_in_a_worker(pilot, data_dir)
        await until(pilot, lambda: done_pages(data_dir) > 0, timeout=30)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("s")
        await until(pilot, lambda: app.return_code == 0, timeout=10)
    assert status_of(data_dir, session_id) == "interrupted"
    assert (("interrupted", QUIT_REASON)) in [(to, r) for to, r, _w in events(data_dir, session_id)]
    demo_url = app.demo_url
    assert demo_url is not None

    app = background_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RecoveryScreen), timeout=10)
        await until(pilot, lambda: QUIT_REASON in screen_text(app))
        await pilot.press("r")
        _, pid = await until_in_a_worker(pilot, data_dir)
        assert pid != os.getpid()
        # The worker serves the demo site again, on the port the session records.
        await until(pilot, lambda: status_of(data_dir, session_id) == "completed", CRAWL_TIMEOUT_S)
        # The live screen it opened follows the worker to its end, whatever the app's own
        # follower of that worker announces meanwhile.
        await until(pilot, lambda: _shows(app, session_id, Status.COMPLETED), timeout=10)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app.return_code == 0, timeout=5)
    wanted = expected_pages(demo_url, download=DEMO_DOWNLOADS)
    progress = json.loads(session_row(data_dir, session_id)["progress"])
    assert (progress["done"], progress["failed"]) == (len(wanted) - 3, 3)  # 3 broken links
    assert_store_invariants(data_dir)


async def test_a_signal_ends_the_app_and_leaves_the_worker_crawling(
    data_dir: Path, site: SiteServer
) -> None:
    app = background_app(data_dir, new_config=paced(site))
    async with app.run_test(size=(100, 30)) as pilot:
        session_id, pid = await until_in_a_worker(pilot, data_dir)
        app.stop_for_signal("SIGHUP received")
        await until(pilot, lambda: app.return_code == 130, timeout=5)
    assert status_of(data_dir, session_id) == "running"
    assert worker_pid_of(data_dir, session_id) == pid
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=CRAWL_TIMEOUT_S)
    assert all(to != "interrupted" for to, _r, _w in events(data_dir, session_id))


async def test_a_worker_that_cannot_start_is_a_toast(data_dir: Path, site: SiteServer) -> None:
    session_id = await create_session(data_dir, f"{site.base}/")
    (data_dir / "logs").write_text("")  # where the worker's log must go: a file, not a dir
    app = background_app(data_dir, resume=session_id)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, lambda: "Could not start the crawl" in toasts(app), timeout=10)
        assert "cannot start the worker" in toasts(app)
        assert status_of(data_dir, session_id) == "pending" and not lease_held(data_dir, session_id)
        await pilot.press("ctrl+q")  # nothing runs: no question
        await until(pilot, lambda: app.return_code == 0, timeout=5)


async def test_quit_escape_stays(data_dir: Path, site: SiteServer) -> None:
    app = background_app(data_dir, new_config=paced(site))
    async with app.run_test(size=(100, 30)) as pilot:
        session_id, _pid = await until_in_a_worker(pilot, data_dir)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, QuitScreen))
        assert app.return_code is None
        await pilot.press("ctrl+q")  # asked again
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("s")
        await until(pilot, lambda: app.return_code == 0, timeout=10)
    assert status_of(data_dir, session_id) == "interrupted"


def _shows(app: ScraperApp, session_id: str, status: Status) -> bool:
    screen = app.screen
    return (
        isinstance(screen, ProgressScreen)
        and screen.session_id == session_id
        and screen.state is status
        and status.value.upper() in screen_text(app)
    )
