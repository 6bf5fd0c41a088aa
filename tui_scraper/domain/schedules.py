"""The queue of sessions and recurring schedules: their records and the rules of their times.

A schedule recurs either every fixed interval (`every_s`) or by a cron expression in a time
zone. Cron times, time zones and daylight-saving changes are croniter's and zoneinfo's, never
computed here by hand: a wall-clock time that a DST change skips or repeats is whatever croniter
makes of it in that zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .config import CrawlConfig
from .errors import ConfigError, ScraperError

__all__ = [
    "MAX_PARALLEL",
    "MISSED_POLICIES",
    "RUN_OUTCOMES",
    "MissedPolicy",
    "QueueEntry",
    "RunOutcome",
    "ScheduleRecord",
    "ScheduleRun",
    "ScheduleSpec",
    "check_cron",
    "check_timezone",
    "next_run_after",
    "parse_every",
]

# What happens to the runs a schedule missed while the service was down: `run-once` starts one
# run when the service is back (however many were missed), `skip` records them as missed and
# waits for the next time.
MissedPolicy = Literal["run-once", "skip"]
MISSED_POLICIES: Final[tuple[MissedPolicy, ...]] = ("run-once", "skip")
# A run is "missed" (rather than merely a little late) when the service finds it this late.
MISSED_AFTER_S: Final = 60.0

RunOutcome = Literal["started", "skipped", "missed"]
RUN_OUTCOMES: Final[tuple[RunOutcome, ...]] = ("started", "skipped", "missed")

MIN_EVERY_S: Final = 1.0
# The most sessions one service runs at a time (`service start --parallel`).
MAX_PARALLEL: Final = 64
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_EVERY_RE = re.compile(r"\A\s*(\d+(?:\.\d+)?)\s*([smhd])\s*\Z")


def parse_every(text: str) -> float:
    """'90s', '30m', '6h', '1d' → seconds; ConfigError otherwise (a unit is required)."""
    found = _EVERY_RE.match(text.lower())
    if found is None:
        raise ConfigError("every", f"{text!r} is not an interval like 30s, 15m, 6h or 1d")
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds < MIN_EVERY_S:
        raise ConfigError("every", f"{text!r} is shorter than {MIN_EVERY_S:g} s")
    return seconds


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "tz", f"{name!r} is not a known time zone (e.g. Europe/Paris, UTC)"
        ) from None


def check_cron(expression: str) -> str:
    """The expression, stripped, when croniter accepts it; ConfigError with its reason."""
    from croniter import croniter

    text = " ".join(expression.split())
    if not text:
        raise ConfigError("cron", "the expression is empty")
    try:
        croniter(text)
    except (ValueError, KeyError) as exc:
        raise ConfigError("cron", f"{expression!r} is not a cron expression ({exc})") from None
    return text


def next_run_after(*, every_s: float | None, cron: str | None, tz: str, after: float) -> float:
    """The first run time strictly after `after` (seconds since the epoch)."""
    if every_s is not None:
        return after + every_s
    if cron is None:
        raise ConfigError("schedule", "neither an interval nor a cron expression")
    from croniter import croniter

    start = datetime.fromtimestamp(after, check_timezone(tz))
    following = croniter(cron, start).get_next(datetime)
    return float(following.timestamp())


@dataclass(frozen=True)
class ScheduleSpec:
    """What `schedule add` asks for, checked: the crawl and when it recurs."""

    config: CrawlConfig
    every_s: float | None = None
    cron: str | None = None
    tz: str = "UTC"
    missed: MissedPolicy = "run-once"

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.cron is None):
            raise ConfigError("schedule", "give exactly one of --every and --cron")
        if self.every_s is not None and self.every_s < MIN_EVERY_S:
            raise ConfigError("every", f"shorter than {MIN_EVERY_S:g} s")
        if self.cron is not None:
            check_cron(self.cron)
        check_timezone(self.tz)
        if self.missed not in MISSED_POLICIES:
            raise ConfigError("missed", f"{self.missed!r} is not one of {MISSED_POLICIES}")

    def first_run(self, now: float) -> float:
        return next_run_after(every_s=self.every_s, cron=self.cron, tz=self.tz, after=now)


@dataclass(frozen=True)
class ScheduleRecord:
    id: str
    config: CrawlConfig
    every_s: float | None
    cron: str | None
    tz: str
    missed: MissedPolicy
    paused: bool
    next_run_at: float
    created_at: float
    last_run_at: float | None = None
    last_session_id: str | None = None
    last_outcome: RunOutcome | None = None
    last_detail: str | None = None

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def target_url(self) -> str:
        return self.config.target_url

    @property
    def timing(self) -> str:
        """'every 6h' or 'cron 0 3 * * * (Europe/Paris)': how it recurs, for people."""
        if self.every_s is not None:
            return f"every {describe_seconds(self.every_s)}"
        return f"cron {self.cron} ({self.tz})"

    def following(self, after: float) -> float:
        return next_run_after(every_s=self.every_s, cron=self.cron, tz=self.tz, after=after)


@dataclass(frozen=True)
class ScheduleRun:
    """One time a schedule came due: a session started, or why none was."""

    id: int
    schedule_id: str
    at: float
    outcome: RunOutcome
    session_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class QueueEntry:
    """A session waiting for the service (`started_at` None) or started by it. `place` is its
    rank among the waiting ones, from 1 (0 once started)."""

    session_id: str
    position: int
    queued_at: float
    started_at: float | None = None
    place: int = 0


def describe_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class ScheduleNotFound(ScraperError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"no schedule matches {ref!r} (see: tui-scraper schedule list)")


class AmbiguousScheduleId(ScraperError):
    def __init__(self, ref: str, count: int) -> None:
        super().__init__(f"schedule id {ref!r} matches {count} schedules; give more characters")


class NotQueueable(ScraperError):
    """Only a pending session can wait in the queue; the message is one line."""


class ServiceError(ScraperError):
    """The background service could not be started or stopped (not bad input); one line."""
