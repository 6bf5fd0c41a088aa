"""What a session is: states, configuration, progress and records. No I/O lives here."""

from .config import CrawlConfig, ExtractRule
from .errors import (
    AmbiguousSessionId,
    ConfigError,
    DatabaseError,
    InvalidTransition,
    ScraperError,
    SessionBusy,
    SessionNotFound,
)
from .progress import Progress
from .records import (
    ClaimedPage,
    DiscoveredLink,
    DownloadRecord,
    EventRecord,
    LeaseOwner,
    PageRecord,
    PageResult,
    SessionRecord,
)
from .status import ALLOWED_TRANSITIONS, FINAL, RESUMABLE, PageStatus, Status, is_allowed

__all__ = [
    "ALLOWED_TRANSITIONS",
    "FINAL",
    "RESUMABLE",
    "AmbiguousSessionId",
    "ClaimedPage",
    "ConfigError",
    "CrawlConfig",
    "DatabaseError",
    "DiscoveredLink",
    "DownloadRecord",
    "EventRecord",
    "ExtractRule",
    "InvalidTransition",
    "LeaseOwner",
    "PageRecord",
    "PageResult",
    "PageStatus",
    "Progress",
    "ScraperError",
    "SessionBusy",
    "SessionNotFound",
    "SessionRecord",
    "Status",
    "is_allowed",
]
