"""The worker's side of the live channel: serve snapshots, progress, events and commands.

The worker hands in two callables — `snapshot_source()` (the current progress as a JSON-able
dict) and `command_handler(command)` (async, returns a Reply) — and calls `publish_progress`
and `publish_event`. Nothing a client does can stop or slow the worker: every client has a
one-slot progress mailbox (latest wins, at most `progress_hz` a second), a small bounded queue
for events and replies, and a bounded transport buffer; a client that falls behind is dropped,
and a client that sends garbage is closed with a final `error`.

What connecting costs the worker is bounded too, whatever the clients do:

- The greeting (hello + snapshot) is built and encoded once per value of `snapshot_key()` (the
  worker's "the figures moved" marker) and every newcomer is sent the same bytes; without a key
  it is built for each connection. A progress sample is encoded once for all clients.
- New connections are admitted from a budget (`admit_per_second` on average, `admit_burst` at
  once): beyond it the server stops accepting until a token comes back, and the connections
  wait in the kernel's listen backlog — greeted a little later, never refused. So clients that
  connect and disconnect in a tight loop get at most `admit_per_second` greetings a second
  between them, and take at most that many connections' work a second from the crawl.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import protocol
from .admission import AdmissionBudget
from .listener import bind_private_socket, still_ours
from .paths import ChannelError
from .peer import peer_allowed
from .protocol import Command, Reply

log = logging.getLogger(__name__)

SnapshotSource = Callable[[], Mapping[str, Any]]
# Equal values: the snapshot has not changed, a cached greeting may be sent again.
SnapshotKey = Callable[[], Hashable]


class CommandHandler(Protocol):
    def __call__(self, command: Command, /) -> Awaitable[Reply]: ...


@dataclass(frozen=True)
class ServerLimits:
    progress_hz: float = 4.0
    # Events and command replies waiting for one client; more and the client is dropped.
    queue_size: int = 64
    # Bytes the transport may hold for one client before the server stops writing to it...
    write_high_water: int = 256 * 1024
    # ...and how long it may stay that full before the client is dropped.
    write_deadline: float = 5.0
    # Sent when nothing else was, so a client can tell a stopped worker from a quiet one.
    heartbeat: float = 1.0
    # How often the socket file is checked (a stat) in case someone removed it.
    check_interval: float = 1.0
    # How long a final error may take to reach a client that is being closed.
    close_grace: float = 1.0
    max_clients: int = 256
    commands_in_flight: int = 16
    # New connections admitted a second on average, and at once (see the module docstring).
    admit_per_second: float = 100.0
    admit_burst: int = 16
    # How long accepting pauses when the process is out of file descriptors or memory.
    accept_error_pause: float = 1.0


@dataclass
class ServerStats:
    """Counters for tests and diagnostics; they only grow."""

    accepted: int = 0
    # Greetings built (a cached one sent again is not counted).
    greetings_built: int = 0
    # Times accepting paused because the admission budget was spent.
    admission_waits: int = 0
    refused_peers: int = 0
    dropped_slow: int = 0
    closed_bad_input: int = 0
    recreated: int = 0
    # The longest unfinished line any client made the server hold, in bytes.
    max_pending_line: int = 0


_HEARTBEAT = protocol.encode({"type": "heartbeat"})


class _PendingProgress:
    """One published progress sample, shared by every client's mailbox, encoded at most once."""

    __slots__ = ("_data", "_line")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._line: bytes | None = None

    def line(self) -> bytes | None:
        """The encoded message; None (logged once) if the worker handed in something that is
        not JSON or is over the limit: a bad sample is skipped, the channel goes on."""
        if self._line is None:
            try:
                self._line = protocol.encode({"type": "progress", "data": self._data})
            except (TypeError, ValueError, protocol.ProtocolError) as exc:
                log.error("live channel: a progress sample cannot be sent: %s", exc)
                self._line = b""
        return self._line or None


class ChannelServer:
    """Serve one session's channel at `path` (see `paths.socket_path`)."""

    def __init__(
        self,
        path: Path,
        snapshot_source: SnapshotSource,
        command_handler: CommandHandler,
        *,
        snapshot_key: SnapshotKey | None = None,
        session_id: str | None = None,
        limits: ServerLimits | None = None,
        allowed_uid: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.snapshot_source = snapshot_source
        self.snapshot_key = snapshot_key
        self.command_handler = command_handler
        self.session_id = session_id
        self.limits = limits or ServerLimits()
        self.allowed_uid = os.geteuid() if allowed_uid is None else allowed_uid
        self.stats = ServerStats()
        self._hello = protocol.encode(protocol.hello(os.getpid(), session_id))
        self._greeting: tuple[Hashable, bytes] | None = None
        self._admission: AdmissionBudget | None = None
        self._connections: set[_Connection] = set()
        self._admitting: set[asyncio.Task[None]] = set()
        self._listener: _Acceptor | None = None
        self._inode = -1
        self._watchdog: asyncio.Task[None] | None = None
        self._recheck = asyncio.Event()
        self._closed = False

    async def __aenter__(self) -> ChannelServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        limits = self.limits
        self._admission = AdmissionBudget(limits.admit_per_second, limits.admit_burst, loop.time)
        await self._listen()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_socket_file())

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._listener is not None:
            self._listener.close()
        for task in list(self._admitting):
            task.cancel()
        for connection in list(self._connections):
            connection.abort()
        if still_ours(self.path, self._inode):
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    # -- what the worker calls ------------------------------------------------------------

    def publish_progress(self, data: Mapping[str, Any]) -> None:
        """The latest progress; each client gets only the newest it has time for.

        Encoded when first sent, once for all clients, so a worker may publish after every
        page: most samples are replaced before anyone sends them. Hand in a fresh mapping
        each time and do not change it afterwards.
        """
        if not self._connections:
            return
        pending = _PendingProgress(data)
        for connection in self._connections:
            connection.offer_progress(pending)

    def publish_event(self, data: Mapping[str, Any]) -> None:
        """A transition, an outage, an error: every connected client gets each one."""
        if not self._connections:
            return
        try:
            line = protocol.encode({"type": "event", "data": data})
        except (TypeError, ValueError, protocol.ProtocolError) as exc:
            log.error("live channel: an event cannot be sent: %s", exc)
            return
        for connection in list(self._connections):
            connection.offer_message(line)

    def recheck(self) -> None:
        """Check the socket file now (e.g. on SIGUSR1) instead of at the next interval."""
        self._recheck.set()

    # -- what tests and diagnostics read ---------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def buffered_bytes(self) -> list[int]:
        """Bytes waiting in each client's transport (what a non-reading client costs)."""
        return [c.buffered_bytes() for c in self._connections]

    # -- internals -------------------------------------------------------------------------

    async def _listen(self) -> None:
        sock, inode = bind_private_socket(self.path)
        assert self._admission is not None
        listener = _Acceptor(sock, self._admission, self._admit, self.limits, self.stats)
        old, self._listener, self._inode = self._listener, listener, inode
        if old is not None:
            # Closing a listener leaves its accepted connections alone: they keep working.
            old.close()

    def _admit(self, sock: socket.socket) -> None:
        """An accepted socket becomes a connection (in a task: the transport is made async)."""
        task = asyncio.get_running_loop().create_task(self._connect(sock))
        self._admitting.add(task)
        task.add_done_callback(self._admitting.discard)

    async def _connect(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(lambda: _Connection(self), sock=sock)
        except OSError as exc:  # the client went away before it was set up: nothing to serve
            log.debug("live channel: a connection failed at setup: %s", exc)
            sock.close()

    def greeting(self) -> bytes:
        """hello + snapshot as sent to a newcomer; cached while `snapshot_key()` is unchanged.

        Raises whatever the snapshot source raises, and ProtocolError if it is too big."""
        key = self.snapshot_key() if self.snapshot_key is not None else None
        cached = self._greeting
        if cached is not None and self.snapshot_key is not None and cached[0] == key:
            return cached[1]
        line = self._hello + protocol.encode({"type": "snapshot", "data": self.snapshot_source()})
        self.stats.greetings_built += 1
        if self.snapshot_key is not None:
            self._greeting = (key, line)
        return line

    async def _watch_socket_file(self) -> None:
        failing = False
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.check_interval):
                    await self._recheck.wait()
            self._recheck.clear()
            if still_ours(self.path, self._inode):
                continue
            try:
                await self._listen()
            except ChannelError as exc:
                # Said once per outage, not once a second; it is retried at every check.
                if not failing:
                    log.warning("live channel: cannot re-create the socket: %s", exc)
                failing = True
            else:
                failing = False
                self.stats.recreated += 1
                log.info("live channel: re-created %s", self.path)

    def _accept(self, connection: _Connection) -> bool:
        if len(self._connections) >= self.limits.max_clients:
            return False
        self._connections.add(connection)
        self.stats.accepted += 1
        return True

    def _forget(self, connection: _Connection) -> None:
        self._connections.discard(connection)


class _Connection(asyncio.Protocol):
    """One client: reads its commands line by line, writes through one pump task."""

    def __init__(self, server: ChannelServer) -> None:
        self.server = server
        self.limits = server.limits
        self.transport: asyncio.Transport | None = None
        self._partial = bytearray()
        self._outbox: deque[bytes] = deque()
        self._progress: _PendingProgress | None = None
        self._wake = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._pump_task: asyncio.Task[None] | None = None
        self._drop_timer: asyncio.TimerHandle | None = None
        self._commands: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not peer_allowed(transport.get_extra_info("socket"), self.server.allowed_uid):
            self.server.stats.refused_peers += 1
            self._closing = True
            transport.abort()
            return
        if not self.server._accept(self):
            self._close_with(protocol.REFUSED, "too many clients")
            return
        high = self.limits.write_high_water
        transport.set_write_buffer_limits(high=high, low=high // 4)
        try:
            self._outbox.append(self.server.greeting())
        except Exception:
            log.exception("live channel: the snapshot source failed")
            self._close_with(protocol.INTERNAL, "the worker could not take a snapshot")
            return
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        limit = protocol.MAX_CLIENT_LINE
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            if len(self._partial) + end - start > limit:
                self._bad_input(protocol.TOO_LONG, f"a line is longer than {limit} bytes")
                return
            if self._partial:
                line = bytes(self._partial) + data[start:end]
                self._partial.clear()
            else:
                line = data[start:end]
            self._handle_line(line)
            if self._closing:
                return
            start = end + 1
        rest = len(data) - start
        if rest:
            if len(self._partial) + rest > limit:
                self._bad_input(protocol.TOO_LONG, f"a line is longer than {limit} bytes")
                return
            self._partial += data[start:]
            stats = self.server.stats
            stats.max_pending_line = max(stats.max_pending_line, len(self._partial))

    def eof_received(self) -> bool | None:
        # A half line before EOF is a client that went away, not an error worth a reply.
        return None

    def pause_writing(self) -> None:
        self._writable.clear()
        if self._drop_timer is None:
            loop = asyncio.get_running_loop()
            self._drop_timer = loop.call_later(self.limits.write_deadline, self._drop_slow)

    def resume_writing(self) -> None:
        self._writable.set()
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.server._forget(self)
        if self._pump_task is not None:
            self._pump_task.cancel()
        if self._drop_timer is not None:
            self._drop_timer.cancel()
        self._writable.set()

    # -- fed by the server ------------------------------------------------------------------

    def offer_progress(self, pending: _PendingProgress) -> None:
        self._progress = pending
        self._wake.set()

    def offer_message(self, line: bytes) -> None:
        if self._closing:
            return
        if len(self._outbox) >= self.limits.queue_size:
            self._drop_slow()
            return
        self._outbox.append(line)
        self._wake.set()

    def buffered_bytes(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport else 0

    def abort(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.abort()

    # -- internals ----------------------------------------------------------------------------

    async def _pump(self) -> None:
        """The only writer of this client: queued messages first, then the newest progress
        when the rate allows, and a heartbeat when there was nothing to say for a while."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.limits.progress_hz
        next_progress = 0.0
        last_write = loop.time()
        while not self._closing:
            self._wake.clear()
            now = loop.time()
            if self._outbox:
                line = self._outbox.popleft()
            elif self._progress is not None and now >= next_progress:
                pending, self._progress = self._progress, None
                if (encoded := pending.line()) is None:
                    continue
                line = encoded
                next_progress = now + interval
            elif now >= last_write + self.limits.heartbeat:
                line = _HEARTBEAT
            else:
                due = last_write + self.limits.heartbeat
                if self._progress is not None:
                    due = min(due, next_progress)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(due - now):
                        await self._wake.wait()
                continue
            await self._writable.wait()
            if self._closing:
                return
            self.transport.write(line)
            last_write = loop.time()

    def _handle_line(self, line: bytes) -> None:
        try:
            command = protocol.parse_command(protocol.decode(line))
        except protocol.CommandInvalid as exc:
            reply = protocol.error(exc.code, exc.message, exc.command_id)
            self.offer_message(protocol.encode(reply))
            return
        except protocol.ProtocolError as exc:
            self._bad_input(exc.code, exc.message)
            return
        if len(self._commands) >= self.limits.commands_in_flight:
            self.offer_message(
                protocol.encode(
                    protocol.error(protocol.REFUSED, "too many commands at once", command.id)
                )
            )
            return
        task = asyncio.get_running_loop().create_task(self._run(command))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _run(self, command: Command) -> None:
        try:
            reply = await self.server.command_handler(command)
        except Exception:
            log.exception("live channel: the command handler failed on %s", command.kind)
            message = protocol.error(protocol.INTERNAL, f"{command.kind} failed", command.id)
        else:
            if reply.ok:
                message = protocol.ack(command, reply)
            else:
                message = protocol.error(protocol.REFUSED, reply.message, command.id)
        self.offer_message(protocol.encode(message))

    def _bad_input(self, code: str, message: str) -> None:
        self.server.stats.closed_bad_input += 1
        self._close_with(code, message)

    def _close_with(self, code: str, message: str) -> None:
        """Say why, then close; abort if the client does not take the last words in time."""
        self._closing = True
        self._partial.clear()
        transport = self.transport
        if transport is None:
            return
        transport.pause_reading()
        if self._pump_task is not None:
            self._pump_task.cancel()
        with contextlib.suppress(Exception):
            transport.write(protocol.encode(protocol.error(code, message)))
        transport.close()
        asyncio.get_running_loop().call_later(self.limits.close_grace, transport.abort)

    def _drop_slow(self) -> None:
        if self._closing:
            return
        self.server.stats.dropped_slow += 1
        log.info("live channel: dropped a client that stopped reading")
        self.abort()


class _Acceptor:
    """One listening socket, accepted from as the admission budget allows.

    While the budget is spent the socket is not watched at all: connections wait in the
    kernel's backlog until a token comes back, and no loop turn is spent on them meanwhile.
    """

    def __init__(
        self,
        sock: socket.socket,
        budget: AdmissionBudget,
        admit: Callable[[socket.socket], None],
        limits: ServerLimits,
        stats: ServerStats,
    ) -> None:
        self._sock = sock
        self._budget = budget
        self._admit = admit
        self._limits = limits
        self._stats = stats
        self._loop = asyncio.get_running_loop()
        self._watching = False
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False
        self._watch()

    def close(self) -> None:
        self._closed = True
        self._unwatch()
        if self._resume is not None:
            self._resume.cancel()
        self._sock.close()

    def _watch(self) -> None:
        self._resume = None
        if not self._closed and not self._watching:
            self._loop.add_reader(self._sock.fileno(), self._accept_waiting)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self._loop.remove_reader(self._sock.fileno())
            self._watching = False

    def _pause(self, seconds: float) -> None:
        self._unwatch()
        if self._resume is None and not self._closed:
            self._resume = self._loop.call_later(seconds, self._watch)

    def _accept_waiting(self) -> None:
        while self._budget.available():
            try:
                sock, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # nobody else is waiting
            except ConnectionAbortedError:  # gone before we took it; it still counts
                self._budget.take()
                continue
            except OSError as exc:
                # Out of descriptors or memory, typically: accepting again at once would spin.
                log.warning("live channel: cannot accept a connection now: %s", exc.strerror)
                self._pause(self._limits.accept_error_pause)
                return
            self._budget.take()
            sock.setblocking(False)
            self._admit(sock)
        self._stats.admission_waits += 1
        self._pause(self._budget.wait_s())


def recheck_on_sigusr1(server: ChannelServer) -> Callable[[], None]:
    """Make SIGUSR1 re-check the socket file at once; returns what undoes it."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, server.recheck)

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGUSR1)

    return undo
