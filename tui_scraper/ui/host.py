"""ScraperHost: what a screen may ask of the App, as a Protocol.

Screens type `self.app` as this instead of importing the App class: the App imports the
screens, so a screen importing the App would close a design cycle, and a screen could reach
anything the App holds. Data comes from the service; navigation and toasts from the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from textual.notifications import SeverityLevel
from textual.signal import Signal

from tui_scraper.domain import CrawlConfig
from tui_scraper.service import SessionService

if TYPE_CHECKING:
    from .screens.new_session import NewSessionScreen


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

    async def start_session(self, session_ref: str) -> str | None: ...

    async def resume_and_show(self, session_ref: str) -> None: ...

    async def dismiss_session(self, session_id: str) -> bool: ...

    def submit_new_session(
        self,
        config: CrawlConfig,
        form: NewSessionScreen,
        secret_headers: dict[str, str] | None = None,
    ) -> None: ...

    def show_progress(self, session_id: str) -> None: ...

    def show_detail(self, session_id: str) -> None: ...

    def show_new_session(self) -> None: ...

    def ask_export(self, session_id: str, target_url: str) -> None: ...
