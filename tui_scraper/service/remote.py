"""What a client needs to watch and command a session's worker running in another process.

The worker publishes its figures over its live channel as JSON (`runtime/live.py`); here they
become the service's frozen `ProgressSnapshot`s again, with classes of this module for the
parts the wire carries as plain objects. Whether the worker still lives is the lease's answer
(its lock is free: gone), asked through the runtime.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from tui_scraper.domain import Progress, Status
from tui_scraper.runtime.channel.paths import MAX_SOCKET_PATH_BYTES, ChannelError, socket_path
from tui_scraper.runtime.channel.protocol import CommandKind
from tui_scraper.runtime.session_files import lease_holder, worker_alive

from . import ProgressSnapshot, WorkerInfo
from .channel_client import ChannelClient
from .reconnect import (
    AliveProbe,
    Connected,
    Gone,
    Message,
    Reconnecting,
    ReconnectingWatcher,
)

# How long to wait for the worker to answer a command sent over its channel.
COMMAND_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True)
class WireRecentPage:
    """A recent page as the channel carries it (`service.RecentPage`)."""

    url: str
    status: str
    http_status: int | None
    title: str | None
    size: int | None
    elapsed_ms: float | None
    at: float


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _page(item: object) -> WireRecentPage | None:
    if not isinstance(item, Mapping):
        return None
    return WireRecentPage(
        url=_str(item.get("url")),
        status=_str(item.get("status")),
        http_status=_int(item.get("http_status")),
        title=item.get("title") if isinstance(item.get("title"), str) else None,
        size=_int(item.get("size")),
        elapsed_ms=_float(item.get("elapsed_ms")),
        at=_float(item.get("at")) or 0.0,
    )


def _progress(data: object) -> Progress:
    if not isinstance(data, Mapping):
        return Progress()
    try:
        progress = Progress.from_dict(dict(data))
    except TypeError:
        return Progress()
    if not isinstance(progress.host_states, dict):
        progress.host_states = {}
    return progress


def snapshot_from_wire(data: Mapping[str, Any]) -> ProgressSnapshot:
    """A channel `snapshot`/`progress` payload as a ProgressSnapshot. A worker of another
    version may add or drop fields: what is missing or of the wrong type takes a default."""
    try:
        status = Status(_str(data.get("state"), Status.RUNNING.value))
    except ValueError:
        status = Status.RUNNING
    progress = _progress(data.get("progress"))
    recent = data.get("recent")
    errors = data.get("errors")
    history = data.get("rate_history")
    pages = [_page(item) for item in recent] if isinstance(recent, list) else []
    return ProgressSnapshot(
        session_id=_str(data.get("session_id")),
        target_url=_str(data.get("target_url")),
        status=status,
        progress=progress,
        max_pages=_int(data.get("max_pages")),
        recent=tuple(page for page in pages if page is not None),
        errors=tuple(e for e in errors if isinstance(e, str)) if isinstance(errors, list) else (),
        rate_history=tuple(n for n in history if _int(n) is not None)
        if isinstance(history, list)
        else (),
        seq=_int(data.get("seq")) or 0,
        live=status is Status.RUNNING,
        host_states=tuple(sorted((str(k), str(v)) for k, v in progress.host_states.items())),
    )


def check_detachable(data_dir: Path) -> None:
    """ChannelError (one line) when a worker in `data_dir` could not serve its channel (the
    socket path would be too long for AF_UNIX): asked before a session is created for it."""
    try:
        socket_path(Path(data_dir).absolute(), "0" * 32)
    except ChannelError:
        raise ChannelError(
            f"data dir {data_dir}: the path is too long for a background worker's socket "
            f"(run/<session id>.sock must fit in {MAX_SOCKET_PATH_BYTES} bytes); "
            "use a data dir with a shorter path"
        ) from None


def worker_of(data_dir: Path, session_id: str) -> WorkerInfo | None:
    """The process holding the session's lease (a lock file in the data dir: SQLite), or None
    when none does."""
    return worker_info(data_dir, session_id, lease_holder(data_dir, session_id))


def worker_info(
    data_dir: Path, session_id: str, owner: Mapping[str, object] | None
) -> WorkerInfo | None:
    """The worker a lease holder's record describes (None: nobody holds the lease)."""
    if owner is None:
        return None
    pid = owner.get("pid")
    start = owner.get("start")
    return WorkerInfo(
        pid=pid if isinstance(pid, int) else 0,
        host=str(owner.get("host") or ""),
        since=float(start) if isinstance(start, int | float) else None,
        socket_path=socket_path(data_dir, session_id),
    )


async def watch_worker(
    data_dir: Path, session_id: str, *, alive: AliveProbe | None = None
) -> AsyncIterator[ProgressSnapshot]:
    """Snapshots of the session's worker over its channel, reconnecting while its lease is
    held; ends after a snapshot whose status is no longer `running`, or when the worker is
    gone (its lease is free). `alive` asks the store (a lease kept in a database); by default
    the lock file in the data dir is asked."""
    watcher = ReconnectingWatcher(
        socket_path(data_dir, session_id), alive or (lambda: worker_alive(data_dir, session_id))
    )
    last: ProgressSnapshot | None = None
    async for item in watcher:
        if isinstance(item, Gone):
            return
        if isinstance(item, Reconnecting):
            if last is not None:
                # The figures stay on screen, marked stale, until the channel is back.
                yield replace(last, reconnect_in=item.in_seconds)
            continue
        if isinstance(item, Connected):
            data: object = item.snapshot
        elif isinstance(item, Message) and item.message.get("type") == "progress":
            data = item.message.get("data")
        else:
            continue
        if isinstance(data, Mapping):
            snapshot = snapshot_from_wire(data)
            last = snapshot
            yield snapshot
            if not snapshot.live:
                return


async def send_command(
    data_dir: Path,
    session_id: str,
    kind: CommandKind,
    *,
    args: Mapping[str, Any] | None = None,
    timeout: float = COMMAND_TIMEOUT_S,
) -> dict[str, Any]:
    """Send one command (with `args`, for `set`) over the worker's channel; its `ack`.
    ChannelLost when the worker cannot be reached, CommandFailed when it refuses."""
    async with await ChannelClient.connect(socket_path(data_dir, session_id)) as client:
        return await client.command(kind, timeout=timeout, **dict(args or {}))
