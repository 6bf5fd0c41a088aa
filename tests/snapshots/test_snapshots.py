"""SVG snapshots of every screen at 80×24 and 120×40.

Deterministic by construction: a real data dir seeded through the store with fixed ids and
timestamps (tests/ui/seed.py), live figures fed by hand (tests/ui/scripted.py), no sampler
timer (sample_hz=None, `sample()` called by hand), ProgressBar without ETA, no cursor blink,
UTC. Sync tests: snap_compare runs its own event loop.
Update after reviewing the report: `pytest tests/snapshots --snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.conftest import recent
from tests.ui.scripted import ScriptedService
from tui_scraper.domain import Status
from tui_scraper.ui.app import ScraperApp

from .conftest import History

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def _by_status(history: History, status: Status) -> str:
    return history.seeder.by_status(status).id


def _live(app: ScraperApp) -> ScriptedService:
    service = app.service
    assert isinstance(service, ScriptedService)
    return service


async def _settle(pilot: Pilot[Any]) -> None:
    """Let messages and the screens' loaders finish; the App's crawl watchers never do."""
    await pilot.pause()
    await pilot.pause()
    loaders = [w for w in pilot.app.workers if not w.group.startswith("watch-")]
    if loaders:  # an empty list means "all workers" to wait_for_complete
        await pilot.app.workers.wait_for_complete(loaders)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_recovery(snap_compare: Any, size: tuple[int, int], history: History) -> None:
    app = history.app()
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES)
def test_sessions(snap_compare: Any, size: tuple[int, int], history: History) -> None:
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_new_session_with_errors(
    snap_compare: Any, size: tuple[int, int], history: History
) -> None:
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape", "n")
        await _settle(pilot)
        await pilot.press(*"ftp://example.org", "tab", *"0")
        await pilot.press("ctrl+s")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_progress(snap_compare: Any, size: tuple[int, int], history: History) -> None:
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        sid = _by_status(history, Status.INTERRUPTED)
        await pilot.press("escape")
        await app.resume_and_show(sid)
        await _settle(pilot)
        service = _live(app)
        for second in range(12):
            history.clock.now += 1
            service.feed(sid, *recent(second % 5 + 1, start=second * 5))
        service.feed(sid, errors=("http://demo.test/page/7: HTTP 404", "timeout after 30 s"))
        pilot.app.screen.sample()  # type: ignore[attr-defined]
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_cancel_confirm(snap_compare: Any, size: tuple[int, int], history: History) -> None:
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await app.resume_and_show(_by_status(history, Status.PAUSED))
        await _settle(pilot)
        await pilot.press("c")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", ["1", "2", "3"])
def test_detail(snap_compare: Any, size: tuple[int, int], tab: str, history: History) -> None:
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape")
        app.show_detail(_by_status(history, Status.COMPLETED))
        await _settle(pilot)
        await pilot.press(tab)
        if tab == "2":
            await pilot.press("down")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_export_dialog(snap_compare: Any, size: tuple[int, int], history: History) -> None:
    app = history.app()
    app.export_dir = __import__("pathlib").Path("/exports")

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape", "e")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_quit_confirm(snap_compare: Any, size: tuple[int, int], history: History) -> None:
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape")
        await app.start_session(_by_status(history, Status.PAUSED))
        await _settle(pilot)
        await pilot.press("q")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_key_help(snap_compare: Any, size: tuple[int, int], history: History) -> None:
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape", "question_mark")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_new_session_every_option(
    snap_compare: Any, size: tuple[int, int], history: History
) -> None:
    """The lower half of the form: retries … cookies, with a masked secret typed in."""
    app = history.app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        await pilot.press("escape", "n")
        await _settle(pilot)
        pilot.app.screen.query_one("#f-headers").focus()
        await pilot.press(*"Authorization: Bearer x")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
