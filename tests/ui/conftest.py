"""Fixtures for the Pilot tests: the real service over a real store, seeded at fixed times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tui_scraper.engine.stats import RecentPage
from tui_scraper.ui.app import ScraperApp

from .scripted import ScriptedService
from .seed import T0, FixedClock, Seeder, frozen_store

# Titles a hostile site can send (markup, escape sequences, bidi): each must show literally.
HOSTILE = [
    "[/]",
    "[/",
    "x [/",
    "[TODO] x",
    "[@click=app.quit]x[/]",
    "[@click=app.simulate_key('d')]x[/]",
    "[b]",
    "A\x1b]0;PWNED\x07B\x1b[2JC\x1b]52;c;cHduZWQ=\x1b\\D\x9b31mE",
    "evil\u202ecod.exe",
]
# What each looks like once made display-safe (control characters → U+FFFD).
HOSTILE_SHOWN = [
    "[/]",
    "[/",
    "x [/",
    "[TODO] x",
    "[@click=app.quit]x[/]",
    "[@click=app.simulate_key('d')]x[/]",
    "[b]",
    "A\ufffd]0;PWNED\ufffdB\ufffd[2JC\ufffd]52;c;cHduZWQ=\ufffd\\D\ufffd31mE",
    "evil\ufffdcod.exe",
]


def recent(n: int, *, title: str | None = None, start: int = 0) -> list[RecentPage]:
    return [
        RecentPage(
            url=f"http://demo.test/page/{i}",
            status="done" if i % 7 else "failed",
            http_status=200 if i % 7 else 404,
            title=title if title is not None else f"Page {i}",
            size=1000 + i,
            elapsed_ms=10.0 + i,
            at=T0 + i,
        )
        for i in range(start, start + n)
    ]


@pytest.fixture(autouse=True)
def config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Every app under test reads and writes its settings here, never the user's own."""
    path = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("TUI_SCRAPER_CONFIG_DIR", str(path))
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def service(tmp_path: Path, clock: FixedClock) -> AsyncIterator[ScriptedService]:
    """The real local service over a real store in a temp data dir; its stamps are `clock`'s."""
    with frozen_store(clock):
        opened = await ScriptedService.open_at(tmp_path / "ui-data", clock)
        try:
            yield opened
        finally:
            if not opened.closed:  # the App closes it when one ran
                await opened.close()


@pytest.fixture
def seeder(service: ScriptedService, clock: FixedClock) -> Seeder:
    return Seeder(service.manager.store, clock)


def make_app(service: ScriptedService, clock: FixedClock | None = None) -> ScraperApp:
    return ScraperApp(
        service=service,
        sample_hz=None,
        clock=clock or service.clock,
        cursor_blink=False,
    )
