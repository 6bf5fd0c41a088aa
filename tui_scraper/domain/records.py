"""Rows as the rest of the program sees them: plain, immutable data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from .config import CrawlConfig
from .errors import ConfigError
from .progress import Progress
from .status import PageStatus, Status


@dataclass(frozen=True)
class LeaseOwner:
    host: str
    pid: int
    process_start: float  # seconds since the epoch; tells a reused pid from the original
    run_id: str

    def text(self) -> str:
        return f"{self.host}:{self.pid}:{self.process_start:.0f}:{self.run_id}"


@dataclass(frozen=True)
class SessionRecord:
    id: str
    target_url: str
    status: Status
    config: CrawlConfig
    progress: Progress
    summary: dict[str, Any] | None
    error: str | None
    created_at: float
    start_time: float | None
    end_time: float | None
    last_updated: float
    lease_owner: str | None
    heartbeat_at: float | None
    dismissed_at: float | None

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass(frozen=True)
class EventRecord:
    id: int
    session_id: str
    at: float
    kind: str  # "transition", "resume", "outage", "recovery", "error", ...
    from_status: Status | None
    to_status: Status | None
    reason: str
    who: str  # "cli:<pid>", "ui:<pid>", "signal", "reaper", ...


@dataclass(frozen=True)
class ClaimedPage:
    """A frontier row handed to a worker: it is `fetching` until a checkpoint settles it."""

    id: int
    url: str
    depth: int
    attempts: int
    parent_id: int | None


@dataclass(frozen=True)
class DiscoveredLink:
    url: str  # canonical
    depth: int
    parent_id: int | None


@dataclass(frozen=True)
class DownloadRecord:
    url: str
    storage_path: str  # relative to the data dir
    mime_type: str
    size: int
    sha256: str
    referer_page_id: int | None


@dataclass
class PageResult:
    """The outcome of one claimed page, written by `Store.checkpoint`.

    status QUEUED means "retry later": attempts and next_attempt_at say when.
    page_id None means "the page at `url`, inserted (at `depth`, from `parent_id`) unless a row
    for it exists that is already settled" — used for the target of a redirect, whose content
    was fetched under the name that redirected to it.
    """

    page_id: int | None
    url: str
    status: PageStatus
    attempts: int
    next_attempt_at: float | None = None
    http_status: int | None = None
    content_type: str | None = None
    encoding: str | None = None
    content_hash: str | None = None
    storage_path: str | None = None
    title: str | None = None
    extracted: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    fetched_at: float | None = None
    elapsed_ms: float | None = None
    size: int | None = None
    final_url: str | None = None
    links: list[DiscoveredLink] = field(default_factory=list)
    download: DownloadRecord | None = None
    depth: int = 0
    parent_id: int | None = None
    # the target's own result when this page redirected (written in the same checkpoint)
    redirect_result: PageResult | None = None
    # The HTTP exchange's heads as bytes, for a WARC export: the request line and headers we
    # sent (credentials left out) and the status line and headers as received, each bounded.
    request_head: bytes | None = None
    response_head: bytes | None = None
    # HTTP validators as the server sent them (a recrawl sends them back as conditions)
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class PageRecord:
    id: int
    session_id: str
    url: str
    depth: int
    status: PageStatus
    attempts: int
    next_attempt_at: float | None
    http_status: int | None
    content_type: str | None
    encoding: str | None
    content_hash: str | None
    storage_path: str | None
    title: str | None
    extracted: dict[str, Any] | None
    error: dict[str, Any] | None
    fetched_at: float | None
    elapsed_ms: float | None
    size: int | None
    parent_id: int | None
    # See PageResult: None for pages fetched before these were kept, or never answered.
    request_head: bytes | None = None
    response_head: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class PreviousPage:
    """What an earlier session stored for a URL, for a recrawl's conditional request: the
    validators to send, and the stored content a 304 ("not modified") points at again."""

    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str
    storage_path: str
    content_type: str | None
    encoding: str | None


@dataclass(frozen=True)
class EarlierCapture:
    """A page of an earlier session as a WARC revisit refers to it: when it was fetched, what
    it answered (a 304 there points further back) and the stored content it names."""

    url: str
    http_status: int | None
    fetched_at: float | None
    storage_path: str


@dataclass(frozen=True)
class PageState:
    """A page as two sessions are compared (`tui-scraper diff`): where it ended and what it
    stored."""

    url: str
    status: PageStatus
    http_status: int | None
    content_hash: str | None
    storage_path: str | None
    page_id: int = 0
    encoding: str | None = None


class ControlCommand(StrEnum):
    """What a client may ask of a session's worker."""

    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    INTERRUPT = "interrupt"
    SET = "set"  # live tuning; its args name what changes (e.g. {"rate": 2.0})


# A command is a small object (`set` with a rate or a concurrency), never a payload: a bound keeps
# a runaway client from filling the control table.
CONTROL_ARGS_MAX_BYTES = 4096


@dataclass(frozen=True)
class ControlRecord:
    """A command to a session, recorded durably so that it reaches a worker in another process.

    Ids grow in posting order, so a worker lists the pending ones after the last it handled.
    """

    id: int
    session_id: str
    command: ControlCommand
    args: dict[str, Any]
    who: str  # "cli:<pid>", "ui:<pid>", ...
    requested_at: float
    applied_at: float | None
    outcome: str | None  # what the worker did: "paused", "ignored: already paused", ...

    @property
    def pending(self) -> bool:
        return self.applied_at is None


def control_command(command: str) -> ControlCommand:
    """`command` as a ControlCommand; ConfigError (one line) for anything else."""
    try:
        return ControlCommand(command)
    except ValueError:
        known = ", ".join(c.value for c in ControlCommand)
        raise ConfigError("command", f"{command!r} is not a command (one of {known})") from None


def control_args(command: ControlCommand, args: Mapping[str, Any] | None) -> dict[str, Any]:
    """The args of `command`, checked: a JSON object with string keys, at most
    CONTROL_ARGS_MAX_BYTES once encoded, non-empty for `set` and empty for every other command.
    Every backend stores what this returns, so all of them refuse the same input."""
    checked = dict(args or {})
    if not all(isinstance(key, str) and key for key in checked):
        raise ConfigError("args", "every key must be a non-empty string")
    try:
        encoded = json.dumps(checked, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError("args", f"not a JSON object ({exc})") from None
    if len(encoded.encode()) > CONTROL_ARGS_MAX_BYTES:
        raise ConfigError("args", f"larger than {CONTROL_ARGS_MAX_BYTES} bytes")
    if command is ControlCommand.SET and not checked:
        raise ConfigError("args", "set needs at least one setting")
    if command is not ControlCommand.SET and checked:
        raise ConfigError("args", f"{command.value} takes no arguments")
    return cast(dict[str, Any], json.loads(encoded))


@dataclass(frozen=True)
class HostStart:
    """One request's start on a host, reserved for it by the politeness every worker of a
    session shares (`ports.HostPacing`): it counts as in flight until released, and may start
    `wait_s` seconds after it was granted (the host's spacing). `may_keep`: no spacing applies
    on the host and no other worker waits for it, so the holder may hand it on to its own next
    request there for a moment instead of releasing it and reserving again."""

    slot_id: str
    host: str
    wait_s: float
    may_keep: bool = False
