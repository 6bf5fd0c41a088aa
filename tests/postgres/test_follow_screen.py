"""The live screen (Pilot) of a PostgreSQL session that a worker elsewhere runs, fed by the
store-backed follower: this app's data dir has no socket of that worker, yet the screen shows
the session RUNNING with counters and recent pages that move as the worker's checkpoints land,
site text literally, then the final state when the worker ends it; and `p` posts a control
record (the only way there) that the worker elsewhere picks up."""

from __future__ import annotations

from pathlib import Path

from tests.ui.helpers import screen_text, toasts, until
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress, Status
from tui_scraper.domain.location import StoreLocation
from tui_scraper.service.local import LocalSessionService
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.progress import ProgressScreen

from .helpers import SITE, config, owner

LIVE_S = 30.0


async def _checkpoint(runner: Store, session_id: str, done: int, title: str) -> None:
    [page] = await runner.claim_batch(session_id, 1, now=0)
    result = PageResult(
        page_id=page.id,
        url=page.url,
        status=PageStatus.DONE,
        attempts=1,
        http_status=200,
        title=title,
        fetched_at=float(done),
        links=[DiscoveredLink(f"{SITE}/p{done}", 1, page.id)],
    )
    await runner.checkpoint(session_id, [result], Progress(done=done, queued=1), heartbeat=done)


async def test_the_progress_screen_follows_a_worker_elsewhere_from_the_store(
    pg_url: str, tmp_path: Path
) -> None:
    runner = await Store.open(pg_url)  # "machine A": holds the lease, commits batches
    record = await runner.create_session(config(), who="t")
    await runner.acquire_run(record.id, owner(), who="t", reason="go")
    service = await LocalSessionService.open(StoreLocation(tmp_path / "b", pg_url), who="ui")
    app = ScraperApp(service=service, sample_hz=4.0, cursor_blink=False, attach=record.id)
    try:
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
            screen = app.screen
            assert isinstance(screen, ProgressScreen)
            await until(pilot, lambda: screen.background is not None, LIVE_S)
            await until(pilot, lambda: "RUNNING" in screen_text(app), LIVE_S)
            assert service.running_ids() == []  # nothing of it runs in this process

            await _checkpoint(runner, record.id, 1, "[b]First[/b]")
            await until(pilot, lambda: "done 1 " in screen_text(app), LIVE_S)
            await _checkpoint(runner, record.id, 2, "Second")
            await until(pilot, lambda: "done 2 " in screen_text(app), LIVE_S)
            await until(pilot, lambda: "Second" in screen_text(app), LIVE_S)
            assert "[b]First[/b]" in screen_text(app)  # never parsed as markup
            assert "RUNNING" in screen_text(app) and "reconnecting" not in screen_text(app)

            # `p`: no channel from here, so a control record; the runner elsewhere sees it.
            await pilot.press("p")
            await until(pilot, lambda: "Pause sent" in toasts(app), LIVE_S)
            assert "recorded; the worker applies it within" in toasts(app)
            [pending] = await runner.pending_controls(record.id)
            assert pending.command == "pause"
            await runner.transition(record.id, Status.PAUSED, reason="pause by ui", who="t")
            await runner.mark_control_applied(pending.id, outcome="pausing")
            await runner.release_run(record.id)
            await until(pilot, lambda: screen.state is Status.PAUSED, LIVE_S)
            await until(pilot, lambda: "PAUSED" in screen_text(app), LIVE_S)
            assert "done 2 " in screen_text(app)
    finally:
        await runner.close()


async def test_the_sessions_list_shows_a_worker_elsewhere_running_with_moving_counts(
    pg_url: str, tmp_path: Path
) -> None:
    """`running bg` (its lease is live in the database), never interrupted, and its row's
    counts follow the worker's checkpoints; once the worker is gone it reads interrupted."""
    from tui_scraper.ui.screens.sessions import SessionsScreen

    runner = await Store.open(pg_url)
    record = await runner.create_session(config(), who="t")
    await runner.acquire_run(record.id, owner(), who="t", reason="go")
    service = await LocalSessionService.open(StoreLocation(tmp_path / "b", pg_url), who="ui")
    app = ScraperApp(service=service, sample_hz=4.0, cursor_blink=False)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, SessionsScreen), LIVE_S)

            def row() -> str:
                return next(
                    (line for line in screen_text(app).splitlines() if record.short_id in line),
                    "",
                )

            await until(pilot, lambda: "running bg" in row(), LIVE_S)
            await _checkpoint(runner, record.id, 1, "One")
            await _checkpoint(runner, record.id, 2, "Two")
            await until(pilot, lambda: " 2 " in row().split("running bg", 1)[1], LIVE_S)
            assert "interrupted" not in row()
            await runner.close()  # the worker gone: its lock with it
            await until(pilot, lambda: "interrupted" in row(), LIVE_S)
    finally:
        await runner.close()
