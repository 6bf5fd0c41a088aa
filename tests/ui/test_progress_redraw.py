"""What a live sample redraws: only what changed, without re-laying out the screen, the full
recent-pages table in place, the footer once per change of the keys it offers, and nothing of a
sessions list that another screen covers. In a real terminal every redraw is drawn and parsed,
and its CPU is taken from the crawl."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from textual.content import Content
from textual.widgets import Footer, Label
from textual.widgets._footer import FooterKey

from tui_scraper.domain import Status
from tui_scraper.ui.screens.progress import TABLE_HZ, ProgressScreen
from tui_scraper.ui.screens.sessions import SessionsScreen
from tui_scraper.ui.widgets.live_label import needs_layout
from tui_scraper.ui.widgets.recent_pages import MAX_ROWS, RecentPagesTable

from .conftest import make_app, recent
from .helpers import screen_text, until
from .scripted import ScriptedService
from .seed import Seeder

LABELS = ("#progress-status", "#progress-counters", "#progress-speed", "#progress-hosts")


async def _running(pilot, app, seeder: Seeder) -> ProgressScreen:  # type: ignore[no-untyped-def]
    record = await seeder.add("http://demo.test/", Status.PENDING)
    await pilot.pause()
    await app.resume_and_show(record.id)
    await pilot.pause()
    assert isinstance(app.screen, ProgressScreen)
    return app.screen


def cancel_offered(footer: Footer) -> bool:
    """Whether the footer shows the cancel key enabled (a disabled key is dimmed)."""
    key = next(key for key in footer.query(FooterKey) if key.action == "cancel_crawl")
    return not key.has_class("-disabled")


class LabelUpdates:
    """Every `Label.update` of the live screen's labels: (label id, layout asked for)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str | None, bool]] = []
        real = Label.update

        def spy(label: Label, content: object = "", *, layout: bool = True) -> None:
            if label.id in {name[1:] for name in LABELS}:
                self.calls.append((label.id, layout))
            real(label, content, layout=layout)  # type: ignore[arg-type]

        monkeypatch.setattr(Label, "update", spy)


async def test_samples_with_unchanged_figures_redraw_nothing(
    service: ScriptedService, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, seeder)
        stats = service.crawls[screen.session_id].stats
        service.feed(screen.session_id, *recent(20))
        screen.sample()
        await pilot.pause()
        table = screen.query_one(RecentPagesTable)
        rows = list(table.rows)
        updates = LabelUpdates(monkeypatch)
        for _ in range(10):
            stats.update_progress(replace(stats.progress))  # a new sample, the same figures
            screen.sample()
        await pilot.pause()
        assert screen.snapshot is not None and screen.snapshot.seq == stats.snapshot().seq
        assert updates.calls == []
        assert list(table.rows) == rows
        assert "done 17" in screen_text(app)


async def test_figures_that_keep_their_size_do_not_re_lay_out_the_screen(
    service: ScriptedService, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, seeder)
        service.feed(screen.session_id, *recent(20))
        screen.sample()
        await pilot.pause()
        updates = LabelUpdates(monkeypatch)
        service.feed(screen.session_id, *recent(3, start=20))
        screen.sample()
        await pilot.pause()
        assert ("progress-counters", False) in updates.calls
        assert all(not layout for _, layout in updates.calls), updates.calls
        assert "done 19" in screen_text(app)


def test_a_label_re_lays_out_when_its_height_may_change() -> None:
    short, other = Content("done 1"), Content("done 2")
    assert not needs_layout(short, other, 80)
    assert needs_layout(None, short, 80)  # never drawn: its size is not known
    assert needs_layout(short, Content("x" * 81), 80)  # wraps: one more row
    assert needs_layout(Content("x" * 81), short, 80)  # unwraps
    assert needs_layout(short, Content("a\nb"), 80)  # one more line
    assert needs_layout(short, other, 0)  # not laid out yet (hidden)


async def test_a_full_table_shows_new_pages_in_the_rows_it_has(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, seeder)
        service.feed(screen.session_id, *recent(60))
        screen.sample()
        await pilot.pause()
        table = screen.query_one(RecentPagesTable)
        assert table.row_count == MAX_ROWS
        keys, scrolled = list(table.rows), table.scroll_y
        service.feed(screen.session_id, *recent(10, start=60))
        screen.sample()
        await pilot.pause()
        # the same rows (not rebuilt), showing the newest MAX_ROWS pages, the cursor following
        assert list(table.rows) == keys and table.scroll_y == scrolled
        urls = [str(table.get_row_at(row)[2]) for row in range(table.row_count)]
        assert urls == [f"/page/{n}" for n in range(70 - MAX_ROWS, 70)]
        assert table.cursor_row == table.row_count - 1
        assert "/page/69" in screen_text(app)


async def test_a_change_of_state_and_liveness_recomposes_the_footer_once(
    service: ScriptedService, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _running(pilot, app, seeder)
        sid = screen.session_id
        await pilot.press("p")
        await until(pilot, lambda: service.crawls[sid].done)
        screen.sample()
        await until(pilot, lambda: screen.state is Status.PAUSED)
        await pilot.pause()
        refreshed: list[Status] = []
        real = screen.refresh_bindings

        def spy() -> None:
            refreshed.append(screen.state)
            real()

        monkeypatch.setattr(screen, "refresh_bindings", spy)
        await pilot.press("p")  # resumed: RUNNING and live in one sample
        await until(pilot, lambda: screen.state is Status.RUNNING)
        await pilot.pause()
        assert refreshed == [Status.RUNNING]
        for _ in range(5):  # and nothing for samples that change neither
            service.feed(sid, *recent(2))
            screen.sample()
        await pilot.pause()
        assert refreshed == [Status.RUNNING]


async def test_a_covered_sessions_list_is_reloaded_when_it_shows_again(
    service: ScriptedService, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _running(pilot, app, seeder)
        sessions = app.screen_stack[-2]
        assert isinstance(sessions, SessionsScreen)
        listed: list[int] = []
        real = service.list_sessions

        async def spy():  # type: ignore[no-untyped-def]
            listed.append(1)
            return await real()

        monkeypatch.setattr(service, "list_sessions", spy)
        for _ in range(3):
            app.sessions_changed.publish(screen.session_id)
        await pilot.pause()
        assert listed == []  # nobody sees it: not reloaded, its footer not recomposed
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await until(pilot, lambda: len(listed) >= 1)
        await until(pilot, lambda: "running" in screen_text(app))


async def test_the_footer_keeps_its_keys_while_they_stay_the_same(
    service: ScriptedService, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(service)
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await _running(pilot, app, seeder)
        footer = screen.query_one(Footer)
        await pilot.pause()
        recomposed: list[int] = []
        real = footer.recompose

        async def spy() -> None:
            recomposed.append(1)
            await real()

        monkeypatch.setattr(footer, "recompose", spy)
        for _ in range(3):  # what Textual does on focus changes and screen pushes
            screen.refresh_bindings()
            await pilot.pause()
        assert recomposed == []
        assert cancel_offered(footer)
        await pilot.press("p")  # paused: cancel is no longer offered
        await until(pilot, lambda: service.crawls[screen.session_id].done)
        screen.sample()
        await until(pilot, lambda: screen.state is Status.PAUSED)
        await until(pilot, lambda: len(recomposed) >= 1)
        await until(pilot, lambda: not cancel_offered(footer))


async def test_the_slow_parts_follow_the_clock_and_reach_the_screen_without_another_sample(
    service: ScriptedService, seeder: Seeder
) -> None:
    """With the screen's timers on, counters follow every snapshot at once; the recent pages,
    the sparkline and the error log are drawn at most every 1 / TABLE_HZ s, and what a
    throttled snapshot brought still reaches the screen when that period is up, although no
    new snapshot comes (nothing else changes)."""
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        app.sample_hz = 4.0  # the real app's timers, for the live screen only
        screen = await _running(pilot, app, seeder)
        assert screen.sample_hz == 4.0
        sid = screen.session_id
        service.feed(sid, *recent(20))
        screen.sample()
        table = screen.query_one(RecentPagesTable)
        # the first drawing (at mount) was a moment ago: these come with the next one
        await until(pilot, lambda: table.row_count == 20, timeout=1 / TABLE_HZ + 5)
        loop = asyncio.get_running_loop()
        fed_at = loop.time()
        service.feed(sid, *recent(3, start=20), errors=("timeout on http://demo.test/slow",))
        screen.sample()
        await pilot.pause()
        assert "done 19" in screen_text(app)  # counters: at once
        if loop.time() - fed_at < 1 / TABLE_HZ - 0.2:  # (a slow machine may be past it)
            assert table.row_count == 20  # the table: not yet
        await until(pilot, lambda: table.row_count == 23, timeout=1 / TABLE_HZ + 5)
        assert "/page/22" in screen_text(app)
        assert "timeout on http://demo.test/slow" in screen_text(app)
        # and a finished crawl shows its final counts and pages at once, throttle or not
        service.feed(sid, *recent(2, start=23))
        service.finish(sid)
        await until(pilot, lambda: screen.state is Status.COMPLETED)
        await until(pilot, lambda: table.row_count == 25, timeout=2)
        assert "COMPLETED" in screen_text(app) and "done 21" in screen_text(app)


async def test_coming_back_to_the_live_screen_draws_its_table_at_once(
    service: ScriptedService, seeder: Seeder
) -> None:
    """The pages a throttled snapshot brought while another screen covered the live one are
    drawn as soon as it shows again, not when the table's period is up."""
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        app.sample_hz = 4.0
        screen = await _running(pilot, app, seeder)
        sid = screen.session_id
        table = screen.query_one(RecentPagesTable)
        service.feed(sid, *recent(5))
        screen.sample()
        await until(pilot, lambda: table.row_count == 5, timeout=1 / TABLE_HZ + 5)
        loop = asyncio.get_running_loop()
        drawn_at = loop.time()
        await pilot.press("question_mark")  # the keys screen covers it
        await until(pilot, lambda: app.screen is not screen)
        service.feed(sid, *recent(3, start=5))
        screen.sample()  # covered: nothing drawn
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.pause()
        if loop.time() - drawn_at < 1 / TABLE_HZ - 0.2:  # (a slow machine may be past it)
            assert table.row_count == 8
            assert "done 6" in screen_text(app)
