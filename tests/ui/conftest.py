"""Fixtures for the Pilot tests: a fake manager seeded with fixed, hostile data."""

from __future__ import annotations

import pytest

from tui_scraper.domain import PageStatus, Progress, Status
from tui_scraper.engine.stats import RecentPage
from tui_scraper.ui.app import ScraperApp

from .fakes import T0, FakeClock, FakeManager

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
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager(clock: FakeClock) -> FakeManager:
    return FakeManager(clock)


def seeded(manager: FakeManager) -> FakeManager:
    """A small history: one of each status, with summaries, events and pages."""
    done = manager.add(
        "http://demo.test/",
        Status.COMPLETED,
        progress=Progress(done=120, failed=4, skipped=6, bytes=1_250_000, elapsed_s=31),
        summary={
            "pages": {"done": 120, "failed": 4, "skipped": 6},
            "status_codes": {"200": 118, "301": 2, "404": 3, "500": 1},
            "bytes": 1_250_000,
            "duration_s": 31.0,
            "pages_per_s": 4.0,
            "latency_ms": {"p50": 11.0, "p95": 40.5},
        },
    )
    manager.add_page(done.id, "http://demo.test/", title="Demo home", extracted={"h1": ["Demo"]})
    manager.add_page(
        done.id,
        "http://demo.test/missing",
        status=PageStatus.FAILED,
        http_status=404,
        title=None,
        error={"kind": "http", "message": "404 Not Found"},
    )
    manager.add_page(
        done.id, "http://demo.test/private/x", status=PageStatus.SKIPPED, http_status=None
    )
    manager.add(
        "http://demo.test/interrupted",
        Status.INTERRUPTED,
        progress=Progress(done=40, queued=60),
        reason="SIGHUP received",
    )
    manager.add("http://demo.test/paused", Status.PAUSED, progress=Progress(done=10, queued=5))
    manager.add("http://demo.test/failed", Status.FAILED, error="cancelled", reason="cancelled")
    return manager


def make_app(manager: FakeManager, clock: FakeClock | None = None) -> ScraperApp:
    return ScraperApp(
        manager=manager,
        sample_hz=None,
        clock=clock or manager.clock,
        cursor_blink=False,
    )
