"""What a screen asks the App to do, and what the App answers, as Textual Messages.

A screen posts a command (it bubbles from the screen to the App, which handles it) and never
calls the App's methods: the App owns crawls, navigation and the service's commands, so a
screen popped meanwhile cancels nothing. Where a screen needs the outcome, the App posts an
answer back to the screen that asked (`origin`). Queries stay direct: a screen reads the
service from its own workers.
"""

from __future__ import annotations

from textual.message import Message
from textual.message_pump import MessagePump

from tui_scraper.domain import CrawlConfig, ScraperError


class Command(Message):
    """A request from a screen; `origin` is where the answer (if any) goes."""

    def __init__(self, origin: MessagePump) -> None:
        super().__init__()
        self.origin = origin


class ShowProgress(Command):
    def __init__(self, origin: MessagePump, session_id: str) -> None:
        super().__init__(origin)
        self.session_id = session_id


class ShowDetail(Command):
    def __init__(self, origin: MessagePump, session_id: str) -> None:
        super().__init__(origin)
        self.session_id = session_id


class ShowNewSession(Command):
    pass


class ResumeSession(Command):
    """Start or resume a session. `show` opens its live progress; `replace` first closes the
    screen that asked (the recovery screen: escape from progress then goes home)."""

    def __init__(
        self, origin: MessagePump, session_id: str, *, show: bool = True, replace: bool = False
    ) -> None:
        super().__init__(origin)
        self.session_id = session_id
        self.show = show
        self.replace = replace


class DismissSession(Command):
    def __init__(self, origin: MessagePump, session_id: str) -> None:
        super().__init__(origin)
        self.session_id = session_id


class ExportSession(Command):
    def __init__(self, origin: MessagePump, session_id: str, target_url: str) -> None:
        super().__init__(origin)
        self.session_id = session_id
        self.target_url = target_url


class NewSessionSubmitted(Command):
    """The form's config (valid field by field); secret header values never reach the db."""

    def __init__(
        self,
        origin: MessagePump,
        config: CrawlConfig,
        secret_headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(origin)
        self.config = config
        self.secret_headers = secret_headers


# --- answers, posted to the command's origin (they stop there) --------------------------------


class Answer(Message, bubble=False):
    pass


class SessionResumed(Answer):
    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id


class SessionDismissed(Answer):
    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id


class NewSessionRefused(Answer):
    """The service refused the config: a ConfigError names its field."""

    def __init__(self, error: ScraperError) -> None:
        super().__init__()
        self.error = error


__all__ = [
    "Answer",
    "Command",
    "DismissSession",
    "ExportSession",
    "NewSessionRefused",
    "NewSessionSubmitted",
    "ResumeSession",
    "SessionDismissed",
    "SessionResumed",
    "ShowDetail",
    "ShowNewSession",
    "ShowProgress",
]
