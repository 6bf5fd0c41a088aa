"""Helpers for Pilot tests: read what is on screen as plain text."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import RichLog


def screen_text(app: App[object]) -> str:
    """Everything the current screen draws (including toasts), one line per terminal row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def toasts(app: App[object]) -> str:
    """The messages of the notifications raised so far (toasts wrap, so read the source)."""
    return "\n".join(n.message for n in app._notifications)


def log_text(log: RichLog) -> list[str]:
    """The rows a RichLog shows (a wrapped entry spans several), as plain text."""
    return [strip.text.rstrip() for strip in log.lines]


async def until(
    pilot: Pilot[object], condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Let the app run until `condition()` holds (a condition, never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for a condition"
        await pilot.pause(0.05)
