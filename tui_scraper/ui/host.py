"""ScraperHost: what a screen may read off the App, as a Protocol.

Screens type `self.app` as this instead of importing the App class: the App imports the
screens, so a screen importing the App would close a design cycle, and a screen could reach
anything the App holds. Queries go to the service (from the screen's workers), a toast to
`say`; every command (open, resume, pause→resume, dismiss, export, create) is a Message the
screen posts (ui/messages.py), so nothing here runs one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from textual.notifications import SeverityLevel
from textual.signal import Signal

from tui_scraper.service import SessionService


class ScraperHost(Protocol):
    @property
    def service(self) -> SessionService: ...

    @property
    def service_ready(self) -> bool:
        """False until the service is open (the first frames of a start)."""
        ...

    sessions_changed: Signal[str]
    sample_hz: float | None
    cursor_blink: bool
    export_dir: Path

    def now(self) -> float: ...

    def say(self, message: str, *, severity: SeverityLevel = "information") -> None: ...
