"""The live screen of a session that runs in a real background worker: followed over the
worker's channel, "reconnecting in N s" while the worker is stopped (SIGSTOP), INTERRUPTED once
it is killed (its lease free) and `p` resumes it; pause and cancel reach the worker."""

from __future__ import annotations

import asyncio
import os
import re
import signal

from tests.engine.site import SiteServer
from tui_scraper.backends.sqlite import lease
from tui_scraper.domain import CrawlConfig, Status
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.service import CommandDelivery
from tui_scraper.service.local import LocalSessionService, NotRunnable
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.progress import ProgressScreen, reconnect_text
from tui_scraper.ui.screens.sessions import SessionsScreen

from . import background
from .background import SITE_PAGES, start_in_worker, stopped, worker_app
from .helpers import screen_text, toasts, until

data_dir = background.data_dir
site = background.site
local = background.local

# Bounds for a loaded 2-core machine; every wait is on a condition.
LIVE_S = 30.0


def done_shown(text: str) -> int:
    found = re.search(r"done (\d+)", text)
    return int(found.group(1)) if found else -1


async def test_attach_follows_the_worker_to_completed(
    local: LocalSessionService, site: SiteServer
) -> None:
    session_id, worker = await start_in_worker(local, site, rate_per_host=40)
    app = worker_app(local, attach=session_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        assert local.running_ids() == []  # nothing of it runs in this process
        await until(pilot, lambda: screen.background is not None, LIVE_S)
        assert screen.background is not None and screen.background.pid == worker.pid
        assert f"worker pid {worker.pid}" in screen.sub_title
        await until(pilot, lambda: screen.state is Status.COMPLETED, 60)
        await until(pilot, lambda: done_shown(screen_text(app)) == SITE_PAGES, LIVE_S)
        text = screen_text(app)
        assert "COMPLETED" in text and "reconnecting" not in text
        assert screen.query_one("#progress-recent").row_count > 0  # type: ignore[attr-defined]
        assert (await local.get(session_id)).status is Status.COMPLETED
        # the sessions list is beneath: escape goes back to it
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))


async def test_a_stopped_worker_shows_reconnecting_then_live_again(
    local: LocalSessionService, site: SiteServer
) -> None:
    session_id, worker = await start_in_worker(local, site, rate_per_host=4, concurrency=2)
    app = worker_app(local)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.show_progress(session_id)
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        await until(pilot, lambda: done_shown(screen_text(app)) > 0, LIVE_S)
        with stopped(worker.pid):
            await until(pilot, lambda: "reconnecting" in screen_text(app), LIVE_S)
            frozen = done_shown(screen_text(app))
            assert screen.state is Status.RUNNING  # the last figures stay, marked stale
            line = next(row for row in screen_text(app).splitlines() if "reconnecting" in row)
            assert "RUNNING" in line
            assert re.search(r"RUNNING  reconnecting( in \d+ s|…)", line), line
        # SIGCONT: the next attempt connects, a fresh snapshot, and the counters move again
        await until(pilot, lambda: "reconnecting" not in screen_text(app), LIVE_S)
        await until(pilot, lambda: done_shown(screen_text(app)) > frozen, LIVE_S)
        assert screen.background is not None and screen.state is Status.RUNNING


async def test_a_killed_worker_shows_interrupted_and_p_resumes_it(
    local: LocalSessionService, site: SiteServer
) -> None:
    session_id, worker = await start_in_worker(local, site, rate_per_host=4, concurrency=2)
    app = worker_app(local, attach=session_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        await until(pilot, lambda: done_shown(screen_text(app)) > 0, LIVE_S)
        loop = asyncio.get_running_loop()
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its fetch workers
        killed_at = loop.time()
        await until(pilot, lambda: "INTERRUPTED" in screen_text(app), LIVE_S)
        # "within about a second" (printed, not asserted tight: the machine is shared)
        print(f"INTERRUPTED shown {loop.time() - killed_at:.2f} s after SIGKILL")
        assert loop.time() - killed_at < 5
        assert screen.state is Status.INTERRUPTED and screen.background is None
        assert screen.check_action("pause", ()) is True
        assert screen.check_action("cancel_crawl", ()) is None
        await pilot.press("p")  # ResumeSession, as for any interrupted session
        await until(pilot, lambda: screen.state is Status.RUNNING, LIVE_S)
        await until(pilot, lambda: done_shown(screen_text(app)) > 0 and screen._live, LIVE_S)


async def test_news_of_the_session_as_its_worker_ends_still_ends_the_live_screen(
    local: LocalSessionService, site: SiteServer
) -> None:
    """The app announces a session (sessions_changed) when its own follower of the worker sees
    it end, at the moment the screen's follower is itself noticing: the screen restarts its
    watch then, finds no worker any more, and must still show how the session ended."""
    session_id, worker = await start_in_worker(local, site, rate_per_host=4, concurrency=2)
    app = worker_app(local, attach=session_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        await until(pilot, lambda: done_shown(screen_text(app)) > 0, LIVE_S)
        # Stopped first, so the screen's follower is between two reconnect tries when the
        # news comes (and would notice the worker's end only at its next try).
        os.killpg(worker.pid, signal.SIGSTOP)
        await until(pilot, lambda: "reconnecting" in screen_text(app), LIVE_S)
        os.killpg(worker.pid, signal.SIGKILL)
        await until(pilot, lambda: local.worker_of(session_id) is None, LIVE_S)
        app.sessions_changed.publish(session_id)
        await until(pilot, lambda: "INTERRUPTED" in screen_text(app), LIVE_S)
        assert screen.state is Status.INTERRUPTED and screen.background is None


async def test_p_pauses_the_worker_and_says_how(
    local: LocalSessionService, site: SiteServer
) -> None:
    session_id, _worker = await start_in_worker(local, site, rate_per_host=4, concurrency=2)
    app = worker_app(local, attach=session_id)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        await until(pilot, lambda: screen.background is not None and screen._live, LIVE_S)
        await pilot.press("p")
        await until(pilot, lambda: f"Pause sent to {session_id[:8]}" in toasts(app), LIVE_S)
        await until(pilot, lambda: screen.state is Status.PAUSED, LIVE_S)
        assert "PAUSED" in screen_text(app)
        assert (await local.get(session_id)).status is Status.PAUSED


async def test_c_cancels_the_worker_after_the_confirm(
    local: LocalSessionService, site: SiteServer
) -> None:
    session_id, _worker = await start_in_worker(local, site, rate_per_host=4, concurrency=2)
    app = worker_app(local, attach=session_id)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        await until(pilot, lambda: screen.background is not None and screen._live, LIVE_S)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # kept crawling: nothing sent
        await pilot.pause()
        assert "sent to" not in toasts(app)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: f"Cancel sent to {session_id[:8]}" in toasts(app), LIVE_S)
        await until(pilot, lambda: screen.state is Status.FAILED, LIVE_S)
        assert (await local.get(session_id)).status is Status.FAILED


class RefusingService(LocalSessionService):
    """The real service, except that the worker refuses every command (a unit of the screen's
    handling of a refusal; a real refusal is not reproducible on demand)."""

    async def command_worker(self, session_ref: str, command: str) -> CommandDelivery:
        raise NotRunnable(f"the worker of {session_ref[:8]} refused: [b]not now[/b]")


async def test_a_refused_command_is_one_warning(data_dir, site: SiteServer) -> None:  # type: ignore[no-untyped-def]
    service = await RefusingService.open(data_dir, who="ui")
    session_id, _worker = await start_in_worker(service, site, rate_per_host=4, concurrency=2)
    app = worker_app(service, attach=session_id)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        await until(pilot, lambda: screen.background is not None and screen._live, LIVE_S)
        await pilot.press("p")
        await until(pilot, lambda: "refused" in toasts(app), LIVE_S)
        warnings = [n for n in app._notifications if "refused" in n.message]
        assert len(warnings) == 1 and warnings[0].severity == "warning"
        assert "[b]not now[/b]" in warnings[0].message  # shown literally, never as markup
        assert screen.state is Status.RUNNING


def test_reconnect_text_counts_down_in_whole_seconds() -> None:
    assert reconnect_text(None) == ""
    assert reconnect_text(4.2) == "reconnecting in 5 s"
    assert reconnect_text(0.3) == "reconnecting in 1 s"
    assert reconnect_text(0.0) == "reconnecting…"


async def test_a_worker_of_another_protocol_version_is_said_once(
    local: LocalSessionService, data_dir
) -> None:  # type: ignore[no-untyped-def]
    """A lease held (here, by the test) and a socket that greets in another protocol version:
    one warning, and the screen shows the stored record instead of hanging on the channel."""
    record = await local.create(CrawlConfig(target_url="http://127.0.0.1:9/"))
    held = lease.try_lock(data_dir, record.id)
    assert held is not None
    lease.write_owner(held, {"pid": os.getpid(), "host": "elsewhere", "start": 0})
    path = socket_path(data_dir, record.id)
    path.parent.mkdir(mode=0o700, exist_ok=True)

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'{"type": "hello", "protocol": 999}\n{"type": "snapshot", "data": {}}\n')
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(greet, path=str(path))
    try:
        app = worker_app(local, attach=record.id)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await until(pilot, lambda: "Cannot follow the worker" in toasts(app), LIVE_S)
            screen = app.screen
            assert isinstance(screen, ProgressScreen)
            await until(pilot, lambda: "PENDING" in screen_text(app), LIVE_S)
            assert screen.background is None
            assert toasts(app).count("Cannot follow the worker") == 1
    finally:
        server.close()
        held.release()
