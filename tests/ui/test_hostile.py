"""Hostile text from websites shows literally on every screen, toast and palette entry.

Untrusted text: markup in a title must not crash (`[/]`), restyle (`[b]`), hide text
(`[TODO]`) or become an action when clicked (`[@click=app.quit]`); escape sequences and bidi
overrides must not reach the terminal. Notifications are only rendered with
`run_test(notifications=True)`, so every test here turns them on.
"""

from __future__ import annotations

from textual.app import App

from tui_scraper.domain import PageStatus, Progress, Status
from tui_scraper.engine.stats import RecentPage
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.recovery import RecoveryScreen
from tui_scraper.ui.screens.sessions import SessionsScreen
from tui_scraper.ui.text import display_safe

from .conftest import HOSTILE, HOSTILE_SHOWN, make_app
from .helpers import screen_text
from .scripted import ScriptedService
from .seed import T0, Seeder

BIG = (200, 60)  # wide enough that no cell is cut, so each payload can be found whole


async def _hostile_history(seeder: Seeder) -> dict[str, str]:
    """One session per payload (target, error, stop reason), plus pages full of them."""
    ids: dict[str, str] = {}
    for payload in HOSTILE:
        record = await seeder.add(
            payload,
            Status.INTERRUPTED,
            progress=Progress(done=1, queued=1),
            reason=payload,
            error=payload,
        )
        ids[payload] = record.id
    first = ids[HOSTILE[0]]
    for number, payload in enumerate(HOSTILE):
        await seeder.add_page(
            first,
            # The first settles the session's seed row (its target), so rows follow HOSTILE.
            payload if number == 0 else f"http://demo.test/{number}",
            title=payload,
            status=PageStatus.FAILED,
            extracted={"name": payload},
            error={"kind": "http", "message": payload},
        )
    return ids


def _assert_literal(app: App[object], payloads: list[str] = HOSTILE_SHOWN) -> None:
    text = screen_text(app)
    assert "\x1b" not in text and "\u202e" not in text and "\x9b" not in text
    for shown in payloads:
        assert shown in text, shown


def _position(app: App[object], needle: str) -> tuple[int, int]:
    for y, line in enumerate(screen_text(app).splitlines()):
        x = line.find(needle)
        if x >= 0:
            return x + 1, y
    raise AssertionError(f"{needle!r} not on screen")


async def _click_every_action_payload(pilot, app, service: ScriptedService, seeder: Seeder) -> None:  # type: ignore[no-untyped-def]
    before = list(service.calls)
    screen = app.screen
    for payload in ("[@click=app.quit]x[/]", "[@click=app.simulate_key('d')]x[/]"):
        x, y = _position(app, payload)
        await pilot.click(offset=(x, y))
        await pilot.pause()
        assert app.is_running and app.return_code is None
    assert [c for c in service.calls if c[0] == "dismiss"] == []
    assert service.calls[: len(before)] == before
    assert app.screen is screen or screen in app.screen_stack


async def test_recovery_screen(service: ScriptedService, seeder: Seeder) -> None:
    await _hostile_history(seeder)
    app = make_app(service)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecoveryScreen)
        _assert_literal(app)
        await _click_every_action_payload(pilot, app, service, seeder)


async def test_sessions_screen(service: ScriptedService, seeder: Seeder) -> None:
    await _hostile_history(seeder)
    app = make_app(service)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        _assert_literal(app)
        await _click_every_action_payload(pilot, app, service, seeder)


async def test_detail_screen(service: ScriptedService, seeder: Seeder) -> None:
    ids = await _hostile_history(seeder)
    app = make_app(service)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.pause()
        app.show_detail(ids[HOSTILE[0]])
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, SessionDetailScreen)
        _assert_literal(app, [HOSTILE_SHOWN[0]])  # title line + the error figure
        await pilot.press("3")  # timeline: the stop reason
        await pilot.pause()
        _assert_literal(app, [HOSTILE_SHOWN[0]])
        await pilot.press("2")  # pages: every title
        await pilot.pause()
        _assert_literal(app)
        await _click_every_action_payload(pilot, app, service, seeder)
        table = app.screen.query_one("#pages-table")
        for row in range(len(HOSTILE)):
            table.move_cursor(row=row)  # type: ignore[attr-defined]
            await pilot.pause()
            detail = screen_text(app)
            assert detail.count(HOSTILE_SHOWN[row]) >= 3  # title, extracted value, error


async def test_progress_screen(service: ScriptedService, seeder: Seeder) -> None:
    record = await seeder.add("[@click=app.quit]x[/]", Status.PENDING)
    app = make_app(service)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.pause()
        await app.resume_and_show(record.id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        pages = [
            RecentPage(
                url=f"http://demo.test/{i}",
                status="done",
                http_status=200,
                title=payload,
                size=10,
                elapsed_ms=1.0,
                at=T0,
            )
            for i, payload in enumerate(HOSTILE)
        ]
        service.feed(record.id, *pages, errors=tuple(HOSTILE))
        screen.sample()
        await pilot.pause()
        _assert_literal(app)
        await _click_every_action_payload(pilot, app, service, seeder)


async def test_toasts(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.pause()
        for payload in HOSTILE:
            app.say(f"Export failed: {payload}", severity="error")
        await pilot.pause()
        await pilot.pause()
        _assert_literal(app)  # toasts are drawn: any markup error would have crashed here
        await _click_every_action_payload(pilot, app, service, seeder)


async def test_palette_entries(service: ScriptedService, seeder: Seeder) -> None:
    await seeder.add("[@click=app.quit]x[/]", Status.COMPLETED)
    await seeder.add("[/", Status.COMPLETED)
    await seeder.add("evil\u202ecod.exe [b]", Status.COMPLETED)
    app = make_app(service)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"open session")
        await pilot.pause(0.5)
        text = screen_text(app)
        for shown in ("[@click=app.quit]x[/]", "[/", display_safe("evil\u202ecod.exe [b]")):
            assert shown in text, shown
        assert app.is_running
