#!/usr/bin/env python3
"""Regenerate screenshots/*.svg from real runs of the app against the built-in demo site.

    python scripts/make_screenshots.py [--out screenshots]

Everything is real: the SessionManager, the store (in a throw-away data directory), the crawl
engine and the demo server on 127.0.0.1. Screens are driven by key presses through Textual's
headless `run_test` and saved with `save_screenshot` (harlequin's export_screenshots pattern).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tui_scraper.demo import HOSTILE_PATH, DemoServer
from tui_scraper.domain import CrawlConfig, ExtractRule, Status
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.detail import SessionDetailScreen
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.recovery import RecoveryScreen
from tui_scraper.ui.screens.sessions import SessionsScreen

SIZE = (100, 30)


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.1)


def shot(app: ScraperApp, out: Path, name: str) -> None:
    path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    print("wrote", path)


async def first_run(data_dir: Path, url: str, out: Path) -> None:
    """A finished crawl, the form, a live crawl, and quitting while it runs."""
    app = ScraperApp(data_dir, sample_hz=None, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        config = CrawlConfig(
            target_url=url,
            extract=(ExtractRule("heading", "h1"), ExtractRule("links", "a", "href")),
        )
        await app.create_and_start(config)
        await until(pilot, lambda: not app.service.running_ids(), timeout=120)
        await pilot.press("escape")

        await pilot.press("n")
        await pilot.pause(0.5)
        await pilot.press(*url, "tab", *"60", "tab", *"3", "tab", "tab", "tab", *"4")
        await pilot.press("tab", "tab", "tab", *"\\.pdf$")  # scope, include → exclude
        await pilot.pause(0.3)
        shot(app, out, "new_session")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        for _ in range(24):  # ~6 s of a 4 pages/s crawl, sampled at 4 Hz like the real app
            await pilot.pause(0.25)
            screen.sample()
        await pilot.pause(0.2)
        shot(app, out, "progress")
        await pilot.press("c")
        await pilot.pause(0.3)
        shot(app, out, "cancel_confirm")
        await pilot.press("n", "escape")
        await pilot.pause(0.3)
        await pilot.press("q")
        await pilot.pause(0.3)
        shot(app, out, "quit_confirm")
        await pilot.press("y")
        await pilot.pause(1)
    for record in await _statuses(data_dir):
        print("session", record)


async def _statuses(data_dir: Path) -> list[str]:
    from tui_scraper.runtime.manager import SessionManager

    manager = await SessionManager.open(data_dir)
    try:
        return [f"{r.short_id} {r.status.value}" for r in await manager.list_sessions()]
    finally:
        await manager.close()


async def second_run(data_dir: Path, out: Path) -> None:
    """Start again: the recovery screen, the history, and the finished session in detail."""
    app = ScraperApp(data_dir, sample_hz=None, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RecoveryScreen))
        await pilot.pause(0.5)
        shot(app, out, "recovery")
        await pilot.press("escape")
        await pilot.pause(0.5)
        shot(app, out, "sessions")
        await pilot.press("question_mark")
        await pilot.pause(0.5)
        shot(app, out, "key_help")
        await pilot.press("escape")
        await pilot.pause(0.3)
        records = await app.service.list_sessions()
        done = next(r for r in records if r.status is Status.COMPLETED)
        app.show_detail(done.id)
        await until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        await pilot.pause(0.5)
        shot(app, out, "detail_summary")
        await pilot.press("2")
        await pilot.pause(0.5)
        screen = app.screen
        assert isinstance(screen, SessionDetailScreen)
        hostile = next((i for i, p in enumerate(screen.pages) if HOSTILE_PATH in p.url), 0)
        screen.query_one("#pages-table").move_cursor(row=hostile)  # type: ignore[attr-defined]
        await pilot.pause(0.3)
        shot(app, out, "detail_pages")
        await pilot.press("3")
        await pilot.pause(0.3)
        shot(app, out, "detail_timeline")
        await pilot.press("e")
        await pilot.pause(0.3)
        shot(app, out, "export")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"show")
        await pilot.pause(0.5)
        shot(app, out, "palette")


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    server = DemoServer()
    url = await server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="tui-scraper-shots-") as tmp:
            await first_run(Path(tmp), url, out)
            await second_run(Path(tmp), out)
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "screenshots")
    asyncio.run(main(parser.parse_args().out))
