"""The sessions list marks a session a real background worker runs (pid, host, age), Enter
attaches to it; once the worker is killed the row reads interrupted and Enter opens the detail."""

from __future__ import annotations

import os
import signal
import socket

from textual.widgets import DataTable

from tests.engine.site import SiteServer
from tui_scraper.service.local import LocalSessionService
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.sessions import SessionsScreen
from tui_scraper.ui.widgets.worker import age, worker_label

from . import background
from .background import start_in_worker, worker_app
from .helpers import screen_text, until

data_dir = background.data_dir
site = background.site
local = background.local

LIVE_S = 30.0


def status_cell(screen: SessionsScreen, session_id: str) -> str:
    table = screen.query_one(DataTable)
    return str(table.get_cell(session_id, "status"))


async def test_a_background_session_is_marked_and_enter_attaches(
    local: LocalSessionService, site: SiteServer
) -> None:
    session_id, worker = await start_in_worker(local, site, rate_per_host=4, concurrency=2)
    app = worker_app(local)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        await until(pilot, lambda: session_id in screen.background, LIVE_S)
        assert status_cell(screen, session_id) == "running bg"
        # at 80 columns: the whole status cell, and the worker under the table (drawn once
        # the screen has laid out the detail's new lines: waited on, not assumed)
        where = f"pid {worker.pid} on {socket.gethostname()[:20]}"
        await until(pilot, lambda: where in screen_text(app), LIVE_S)
        text = screen_text(app)
        assert "running bg" in text
        assert "(enter attaches)" in text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        progress = app.screen
        assert isinstance(progress, ProgressScreen)
        await until(pilot, lambda: progress.background is not None, LIVE_S)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        # the worker dies: the list (refreshed with the table) says interrupted, and Enter
        # opens the detail, as for any interrupted session
        os.killpg(worker.pid, signal.SIGKILL)
        await until(pilot, lambda: status_cell(screen, session_id) == "interrupted", LIVE_S)
        assert "(enter attaches)" not in screen_text(app)
        assert screen.check_action("resume", ()) is True
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))


def test_worker_label_names_pid_host_and_age() -> None:
    from tui_scraper.service import WorkerInfo

    assert worker_label(WorkerInfo(4242, "box", since=1000.0), now=1185.0) == (
        "pid 4242 on box · 3m"
    )
    assert worker_label(WorkerInfo(7, ""), now=0) == "pid 7"
    assert worker_label(WorkerInfo(7, "box", since=0), now=None) == "pid 7 on box"
    # the host comes from a file in the data dir: never raw on a terminal
    assert worker_label(WorkerInfo(7, "a\x1b[2Jb"), now=0) == "pid 7 on a\ufffd[2Jb"
    assert [age(s) for s in (5, 59, 60, 3599, 3600, 3660, 86400, 90000)] == [
        "5s",
        "59s",
        "1m",
        "59m",
        "1h",
        "1h 1m",
        "1d",
        "1d 1h",
    ]
