"""Wire a running `SessionRunner` to its live channel and to the durable control records.

`LiveSession` is what a worker process runs beside the crawl: it publishes the runner's figures
on the channel a few times a second (only when they moved), turns state changes and new errors
into `event` messages, answers channel commands, and applies the commands clients posted in the
store while no channel reached the worker (polled about twice a second, each marked applied with
what was done). One rule decides every command, whichever way it came (`apply`); `set` (live
tuning) goes to the runner's `tune`, which stores the change before it applies it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Final, Protocol

from ..domain.errors import ConfigError, StorageUnavailable
from ..domain.records import ControlCommand
from ..domain.status import Status
from ..domain.tuning import Tuning
from ..engine.stats import StatsSnapshot
from ..ports import ControlPort
from .channel.protocol import Command, Reply
from .channel.server import ChannelServer

log = logging.getLogger(__name__)

# The channel's snapshot is one line of at most MAX_SERVER_LINE bytes: a screen shows a few
# dozen recent pages, so that many travel (site titles and URLs can be long).
WIRE_RECENT_PAGES: Final = 50
WIRE_ERRORS: Final = 50
PUBLISH_INTERVAL_S: Final = 0.25
CONTROL_POLL_S: Final = 0.5
# How long the last progress and the final event may take to reach connected clients.
FINAL_FLUSH_S: Final = 1.0


class Runner(Protocol):
    """What this module needs of `worker.SessionRunner`."""

    session_id: str

    @property
    def stats(self) -> Any: ...

    def pause(self) -> None: ...

    def cancel(self) -> None: ...

    def interrupt(self, reason: str, *, who: str | None = None) -> None: ...

    async def tune(self, tuning: Tuning, *, who: str) -> str: ...


def snapshot_data(snap: StatsSnapshot) -> dict[str, Any]:
    """The runner's figures as a JSON-able dict: the channel's `snapshot` and `progress` data.
    Site text travels as JSON strings; whoever shows it makes it display-safe."""
    return {
        "session_id": snap.session_id,
        "target_url": snap.target_url,
        "state": snap.state.value,
        "progress": snap.progress.to_dict(),
        "max_pages": snap.max_pages,
        "recent": [
            {
                "url": page.url,
                "status": page.status,
                "http_status": page.http_status,
                "title": page.title,
                "size": page.size,
                "elapsed_ms": page.elapsed_ms,
                "at": page.at,
            }
            for page in snap.recent[-WIRE_RECENT_PAGES:]
        ],
        "errors": list(snap.errors[-WIRE_ERRORS:]),
        "rate_history": list(snap.rate_history),
        "seq": snap.seq,
    }


def new_errors(before: Sequence[str], now: Sequence[str]) -> list[str]:
    """The errors in `now` that `before` did not have; both are the tail of one growing list
    (a bounded deque, so once it is full old ones fall off the front as new ones arrive)."""
    old, new = list(before), list(now)
    if len(new) > len(old) and new[: len(old)] == old:
        return new[len(old) :]
    for shift in range(len(new) + 1):  # the full deque moved by `shift` entries
        if new[: len(new) - shift] == old[shift:]:
            return new[len(new) - shift :]
    return new


class LiveSession:
    """The channel and the control records of one running session, around its runner."""

    def __init__(
        self,
        runner: Runner,
        store: ControlPort,
        *,
        who: str,
        publish_interval: float = PUBLISH_INTERVAL_S,
        control_poll: float = CONTROL_POLL_S,
    ) -> None:
        self.runner = runner
        self.store = store
        self.who = who
        self.server: ChannelServer | None = None
        self.publish_interval = publish_interval
        self.control_poll = control_poll
        self._last_control = 0
        self._stop_requested: str | None = None
        self._seen_state: Status | None = None
        self._seen_errors: list[str] = []
        # Grows with every progress published: the greeting a newcomer gets is rebuilt after
        # each (see `snapshot_key`).
        self._published = 0

    # the one rule for every command --------------------------------------------------------
    async def apply(
        self,
        kind: str,
        *,
        who: str,
        args: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> tuple[bool, str]:
        """Act on a command; (accepted, what was done) — the text an ack or a control record's
        outcome carries. `args` are a `set` command's settings, `reason` an interrupt's, for
        the timeline."""
        state = self.runner.stats.state
        if kind == ControlCommand.RESUME:
            return True, "ignored: already running"
        if state is not Status.RUNNING:
            return False, f"ignored: the session is {state.value}"
        if self._stop_requested is not None:
            return False, f"ignored: already stopping ({self._stop_requested})"
        if kind == ControlCommand.SET:
            return await self._tune(args or {}, who=who)
        if kind == ControlCommand.PAUSE:
            self.runner.pause()
            done = "pausing"
        elif kind == ControlCommand.CANCEL:
            self.runner.cancel()
            done = "cancelling"
        elif kind == ControlCommand.INTERRUPT:
            self.runner.interrupt(reason or f"interrupted by {who}", who=who)
            done = "interrupting"
        else:
            return False, f"unknown command {kind!r:.40}"
        self._stop_requested = done
        self.event({"kind": "command", "command": str(kind), "who": who, "outcome": done})
        log.info("%s by %s", done, who)
        return True, done

    async def _tune(self, args: Mapping[str, Any], *, who: str) -> tuple[bool, str]:
        try:
            tuning = Tuning.from_args(args)
        except ConfigError as exc:
            return False, str(exc)
        try:
            done = await self.runner.tune(tuning, who=who)
        except StorageUnavailable as exc:  # not stored, so not applied either
            return False, f"could not record the change: {exc}"
        self.event({"kind": "command", "command": "set", "who": who, "outcome": done})
        log.info("tuned by %s: %s; %s", who, tuning.describe(), done)
        return True, done

    async def handle_command(self, command: Command) -> Reply:
        """The channel's command handler."""
        args = None
        if command.args is not None:
            args = {k: v for k, v in asdict(command.args).items() if v is not None}
        accepted, text = await self.apply(
            command.kind, who="channel", args=args, reason=command.reason
        )
        return Reply.accepted(text) if accepted else Reply.refused(text)

    # the loops beside the crawl -------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return snapshot_data(self.runner.stats.snapshot())

    def snapshot_key(self) -> tuple[Status, int]:
        """The channel's cache key for the greeting: a newcomer's snapshot is at most one
        publish old, like the progress every client gets, and fresh after a change of state.
        A crawl moves its figures with every page, so keying on them (`seq`) would rebuild the
        snapshot for almost every connection under load."""
        return self.runner.stats.state, self._published

    def event(self, data: dict[str, Any]) -> None:
        if self.server is not None:
            self.server.publish_event(data)

    def publish_now(self) -> None:
        """Progress, plus an event for a change of state and for each new error."""
        snap = self.runner.stats.snapshot()
        if snap.state is not self._seen_state:
            if self._seen_state is not None:
                self.event(
                    {"kind": "transition", "from": self._seen_state.value, "to": snap.state.value}
                )
            self._seen_state = snap.state
        for text in new_errors(self._seen_errors, snap.errors):
            self.event({"kind": "error", "text": text})
        self._seen_errors = list(snap.errors)
        self._published += 1
        if self.server is not None:
            self.server.publish_progress(snapshot_data(snap))

    async def publish_loop(self) -> None:
        last_seq = -1
        while True:
            seq = self.runner.stats.snapshot().seq
            if seq != last_seq:
                last_seq = seq
                self.publish_now()
            await asyncio.sleep(self.publish_interval)

    async def poll_controls_once(self) -> int:
        """Apply the commands posted since the last poll; how many were handled."""
        records = await self.store.pending_controls(
            self.runner.session_id, after_id=self._last_control
        )
        for record in records:
            self._last_control = max(self._last_control, record.id)
            accepted, text = await self.apply(record.command, who=record.who, args=record.args)
            outcome = text if accepted or text.startswith("ignored") else f"refused: {text}"
            await self.store.mark_control_applied(record.id, outcome=outcome)
        return len(records)

    async def control_loop(self) -> None:
        while True:
            try:
                await self.poll_controls_once()
            except StorageUnavailable as exc:  # a busy or full disk: the next poll tries again
                log.warning("cannot read the control records: %s", exc)
            await asyncio.sleep(self.control_poll)

    async def beside(self, crawl: asyncio.Future[Status]) -> Status:
        """Run the publishing and control loops until `crawl` ends; its status."""
        loops = [
            asyncio.ensure_future(self.publish_loop()),
            asyncio.ensure_future(self.control_loop()),
        ]
        try:
            return await crawl
        finally:
            for task in loops:
                task.cancel()
            for task in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.publish_now()  # the final state and figures


async def flush_clients(server: ChannelServer, *, limit: float = FINAL_FLUSH_S) -> None:
    """Give connected clients a moment to receive the final figures before they are cut off.
    With none connected there is nobody to wait for: the process goes on to exit at once."""
    if not server.connection_count:
        return
    deadline = time.monotonic() + limit
    # A client's progress is sent at most `progress_hz` a second: wait for one period.
    await asyncio.sleep(1.0 / server.limits.progress_hz + 0.05)
    while time.monotonic() < deadline and any(server.buffered_bytes()):
        await asyncio.sleep(0.02)
