"""Typed errors shared by every layer. Each carries a one-line message fit for stderr."""

from __future__ import annotations

from .status import Status


class ScraperError(Exception):
    """Base of every error the CLI turns into a one-line message and exit code 2."""


class InvalidTransition(ScraperError):
    """A transition that the state machine forbids, or that lost a race."""

    def __init__(self, session_id: str, current: Status | None, wanted: Status) -> None:
        self.session_id = session_id
        self.current = current
        self.wanted = wanted
        shown = current.value if current is not None else "missing"
        super().__init__(f"session {session_id} is {shown}; it cannot become {wanted.value}")


class SessionNotFound(ScraperError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"no session matches {ref!r}")


class AmbiguousSessionId(ScraperError):
    def __init__(self, ref: str, matches: list[str]) -> None:
        self.ref = ref
        self.matches = matches
        super().__init__(
            f"session id {ref!r} is ambiguous: matches {', '.join(sorted(matches)[:5])}"
        )


class SessionBusy(ScraperError):
    """Another live process holds the session's lease."""

    def __init__(self, session_id: str, pid: int | None, host: str | None) -> None:
        self.session_id = session_id
        self.pid = pid
        self.host = host
        who = f"pid {pid}" if pid is not None else "another process"
        if host:
            who += f" on {host}"
        super().__init__(f"session {session_id} is running in {who}")


class DatabaseError(ScraperError):
    """The database file cannot be used (corrupt, truncated, newer schema, unwritable)."""


class StorageUnavailable(DatabaseError):
    """A write failed because of the disk (full, I/O error, file too large, now read-only).

    What was committed before is intact, so a crawl that meets this stops *resumably*
    (`interrupted`) instead of failing for good: resume it once there is space again.
    """


class ConfigError(ScraperError):
    """A crawl option is invalid; `field` names the option or form field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotDismissable(ScraperError):
    """Only paused and interrupted sessions can be hidden from the recovery screen."""

    def __init__(self, session_id: str, current: Status) -> None:
        self.session_id = session_id
        self.current = current
        super().__init__(
            f"session {session_id} is {current.value}; only paused or interrupted sessions "
            "can be dismissed"
        )


class PageNotFound(ScraperError):
    def __init__(self, page_id: int) -> None:
        self.page_id = page_id
        super().__init__(f"no page with id {page_id}")


class ControlNotFound(ScraperError):
    def __init__(self, control_id: int) -> None:
        self.control_id = control_id
        super().__init__(f"no control record with id {control_id}")
