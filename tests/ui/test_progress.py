"""Live progress: sampled rendering, bounded table and log, pause/resume, cancel, back."""

from __future__ import annotations

from textual.widgets import ProgressBar, RichLog, Sparkline

from tui_scraper.domain import Progress, Status
from tui_scraper.engine.stats import RecentPage
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.sessions import SessionsScreen
from tui_scraper.ui.text import short_url
from tui_scraper.ui.widgets.recent_pages import MAX_ROWS, RecentPagesTable

from .conftest import make_app, recent
from .helpers import log_text, screen_text, until
from .scripted import ScriptedService
from .seed import T0, Seeder


async def _running(
    pilot, app, service: ScriptedService, seeder: Seeder, **kw: object
) -> ProgressScreen:  # type: ignore[no-untyped-def]
    record = await seeder.add("http://demo.test/", Status.PENDING, **kw)  # type: ignore[arg-type]
    await pilot.pause()
    await app.resume_and_show(record.id)
    await pilot.pause()
    assert isinstance(app.screen, ProgressScreen)
    return app.screen


async def test_sample_renders_counters_bar_table_and_log(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, service, seeder, max_pages=40)
        sid = screen.session_id
        service.feed(sid, *recent(20), errors=("timeout on http://demo.test/slow",))
        screen.sample()
        await pilot.pause()
        text = screen_text(app)
        assert "RUNNING" in text
        assert "done 17" in text and "failed 3" in text
        assert screen.query_one(ProgressBar).progress == 50.0  # 20 of max 40
        assert screen.query_one(RecentPagesTable).row_count == 20
        assert log_text(screen.query_one(RichLog)) == ["timeout on http://demo.test/slow"]
        assert screen.query_one(Sparkline).data[-1] == 20
        # nothing moved: the next sample changes nothing; new pages are appended
        screen.sample()
        service.feed(sid, *recent(5, start=20), errors=("x",))
        screen.sample()
        await pilot.pause()
        assert screen.query_one(RecentPagesTable).row_count == 25
        assert log_text(screen.query_one(RichLog))[-1] == "x"


async def test_recent_table_is_bounded(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _running(pilot, app, service, seeder)
        for batch in range(4):
            service.feed(screen.session_id, *recent(60, start=batch * 60))
            screen.sample()
        await pilot.pause()
        table = screen.query_one(RecentPagesTable)
        assert table.row_count == MAX_ROWS
        # the newest page is the last row and the cursor followed it
        assert "page/239" in str(table.get_row_at(table.row_count - 1)[2])
        assert table.cursor_row == table.row_count - 1


async def test_p_pauses_then_resumes(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _running(pilot, app, service, seeder)
        sid = screen.session_id
        crawl = service.crawls[sid]
        await pilot.press("p")
        await pilot.pause()
        assert crawl.requests == ["pause"]
        await until(pilot, lambda: crawl.done)  # the pause is in the store
        screen.sample()
        await pilot.pause()
        await pilot.pause()
        assert screen.state is Status.PAUSED
        assert "PAUSED" in screen_text(app)
        assert (await service.get(sid)).status is Status.PAUSED
        await pilot.press("p")
        await until(pilot, lambda: service.calls.count(("start", sid)) == 2)
        await until(pilot, lambda: screen.state is Status.RUNNING)
        assert service.crawls[sid] is not crawl
        assert (await service.get(sid)).status is Status.RUNNING


async def test_c_cancels_only_after_confirming(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _running(pilot, app, service, seeder)
        crawl = service.crawls[screen.session_id]
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # focus is on "Keep crawling": a stray enter is harmless
        await pilot.pause()
        assert crawl.requests == []
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert crawl.requests == ["cancel"]
        await until(pilot, lambda: crawl.done)
        screen.sample()
        await pilot.pause()
        await pilot.pause()
        assert screen.state is Status.FAILED
        assert (await service.get(screen.session_id)).status is Status.FAILED
        assert screen.check_action("cancel_crawl", ()) is None
        assert screen.check_action("pause", ()) is None


async def test_escape_goes_back_and_the_crawl_goes_on(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _running(pilot, app, service, seeder)
        sid = screen.session_id
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert sid in service.running_ids()  # the screen did not own the crawl
        app.show_progress(sid)
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)


async def test_i_opens_details(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        await _running(pilot, app, service, seeder)
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, SessionDetailScreen)


async def test_completion_is_shown_and_announced(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test(notifications=True) as pilot:
        screen = await _running(pilot, app, service, seeder)
        service.feed(screen.session_id, *recent(3))
        service.finish(screen.session_id)
        await pilot.pause()
        screen.sample()
        await pilot.pause()
        await pilot.pause()
        assert screen.state is Status.COMPLETED
        assert screen.query_one(RecentPagesTable).row_count == 3  # kept after the end
        assert any("completed" in n.message for n in app._notifications)


async def test_stopped_session_shows_its_stored_progress(
    service: ScriptedService, seeder: Seeder
) -> None:
    record = await seeder.add(
        "http://demo.test/", Status.INTERRUPTED, progress=Progress(done=7, queued=3)
    )
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        app.show_progress(record.id)
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "INTERRUPTED" in text and "done 7" in text
        assert isinstance(app.screen, ProgressScreen)
        assert app.screen.query_one(ProgressBar).progress == 70.0


async def test_small_terminal_does_not_break(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, service, seeder)
        service.feed(screen.session_id, *recent(30))
        screen.sample()
        for size in [(60, 16), (40, 10), (20, 5), (120, 40)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert "RUNNING" in screen_text(app)


async def test_long_errors_wrap_in_the_errors_panel(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, service, seeder)
        long_error = "timeout on http://demo.test/" + "deep/" * 20 + "THE-END after 30 s"
        service.feed(screen.session_id, errors=(long_error,))
        screen.sample()
        await pilot.pause()
        rows = log_text(screen.query_one(RichLog))
        assert len(rows) >= 2  # wrapped, not cut at the panel's edge
        assert "".join(rows).replace(" ", "") == long_error.replace(" ", "")


async def test_recent_urls_are_shortened_and_kept_literal(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, service, seeder)
        long_path = "/docs/" + "chapter/" * 8 + "end.html"
        hostile = "http://[@click=app.quit]x[/]/\x1b[2Jpage"
        pages = [
            RecentPage("http://demo.test" + long_path, "done", 200, "Deep", 10, 1.0, T0),
            RecentPage("https://elsewhere.example/a", "done", 200, "Other", 10, 1.0, T0),
            RecentPage(hostile, "failed", None, "x", None, None, T0),
        ]
        service.feed(screen.session_id, *pages)
        screen.sample()
        await pilot.pause()
        table = screen.query_one(RecentPagesTable)
        width = table.column_width("url")
        cells = [str(table.get_row_at(row)[2]) for row in range(table.row_count)]
        # The session's own host: only the path (as in the session detail), cut to the column.
        assert cells[0] == short_url(long_path, width) and cells[0].startswith("/docs/")
        assert cells[1] == "elsewhere.example/a"  # another host keeps its name, no scheme
        # Not a URL urlsplit accepts: cut to the column, shown literally, no escape byte.
        assert "\x1b" not in cells[2] and cells[2].startswith("http://[@click=app.quit]x[/")
        assert app.is_running
