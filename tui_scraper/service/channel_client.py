"""The client side of a worker's live channel: hello, snapshot, messages, commands.

`await ChannelClient.connect(path)` checks the worker's `hello` (its protocol version must be
ours) and reads the first snapshot; iterating the client yields that snapshot, then every
`progress`/`event` message; `await client.command("pause")` sends a command and waits for its
`ack` (an `error` reply raises CommandFailed). Nothing here prints: messages may carry site
text, and only the screen that shows them knows how to make them safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from tui_scraper.runtime.channel import protocol
from tui_scraper.runtime.channel.paths import ChannelError

# A silent worker sends a heartbeat every second; this much silence means it is stopped.
DEFAULT_IDLE_TIMEOUT: Final = 3.0
DEFAULT_CONNECT_TIMEOUT: Final = 2.0
DEFAULT_COMMAND_TIMEOUT: Final = 5.0
# Messages read but not yet taken by the caller. When full, progress is skipped (a newer one
# follows); other messages wait, so reading stops and the worker sees a slow client.
_INBOX_SIZE: Final = 256


class ChannelLost(ChannelError):
    """The connection ended (the worker stopped, was killed, or closed us)."""


class ProtocolMismatch(ChannelError):
    """The worker speaks another protocol version than this client."""


class CommandFailed(ChannelError):
    """The worker answered a command with an `error`."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class ChannelClient:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hello: dict[str, Any],
        snapshot: dict[str, Any],
        idle_timeout: float,
    ) -> None:
        self.hello = hello
        self.snapshot = snapshot
        self.idle_timeout = idle_timeout
        self.closed_reason: str | None = None
        self._reader = reader
        self._writer = writer
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(_INBOX_SIZE)
        self._replies: dict[protocol.CommandId, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._snapshot_taken = False
        self._read_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(
        cls,
        path: Path,
        *,
        timeout: float = DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> ChannelClient:
        """Connect and read `hello` and the snapshot within `timeout` seconds.

        ChannelLost (nobody there, or no answer in time: a worker that is stopped still lets
        the kernel accept), ProtocolMismatch, or ChannelError for a garbled greeting.
        """
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(
                    os.fspath(path), limit=protocol.MAX_SERVER_LINE
                )
        except (OSError, TimeoutError) as exc:
            raise ChannelLost(f"{path}: cannot connect: {_why(exc)}") from None
        try:
            async with asyncio.timeout(timeout):
                hello = await _read_message(reader)
                _check_hello(hello)
                snapshot = await _read_message(reader)
        except TimeoutError:
            writer.close()
            raise ChannelLost(f"{path}: the worker did not answer in {timeout:g} s") from None
        except ChannelError:
            writer.close()
            raise
        if snapshot["type"] != "snapshot" or not isinstance(snapshot.get("data"), dict):
            writer.close()
            raise ChannelError(f"{path}: expected a snapshot, got {snapshot['type']!r:.60}")
        return cls(reader, writer, hello, snapshot, idle_timeout)

    async def __aenter__(self) -> ChannelClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self.messages()

    async def messages(self, *, with_snapshot: bool = True) -> AsyncIterator[dict[str, Any]]:
        """The snapshot first (once), then each message; ends when the connection does."""
        if with_snapshot and not self._snapshot_taken:
            self._snapshot_taken = True
            yield self.snapshot
        while True:
            message = await self._inbox.get()
            if message is None:
                return
            yield message

    async def command(
        self,
        kind: protocol.CommandKind,
        *,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        **args: Any,
    ) -> dict[str, Any]:
        """Send a command and return its `ack`. CommandFailed on an `error` reply,
        TimeoutError when none comes in time, ChannelLost when the connection ends first."""
        if self.closed_reason is not None:
            raise ChannelLost(self.closed_reason)
        command_id = next(self._ids)
        message: dict[str, Any] = {"type": kind, "id": command_id}
        if args:
            message["args"] = args
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[command_id] = future
        try:
            self._writer.write(protocol.encode(message, limit=protocol.MAX_CLIENT_LINE))
            await self._writer.drain()
            async with asyncio.timeout(timeout):
                reply = await future
        except TimeoutError:
            raise  # an OSError too, but no answer in time is not a broken connection
        except OSError as exc:
            raise ChannelLost(f"cannot send {kind}: {_why(exc)}") from None
        finally:
            self._replies.pop(command_id, None)
        if reply["type"] == "error":
            raise CommandFailed(str(reply.get("code")), str(reply.get("message")))
        return reply

    async def close(self) -> None:
        self._read_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._read_task
        self._finish("closed by the client")
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        reason = "the worker closed the connection"
        try:
            while True:
                async with asyncio.timeout(self.idle_timeout):
                    message = await _read_message(self._reader)
                await self._route(message)
        except asyncio.CancelledError:
            reason = "closed by the client"
            raise
        except ChannelLost as exc:
            reason = exc.args[0]
        except TimeoutError:
            reason = f"no word from the worker in {self.idle_timeout:g} s"
        except ChannelError as exc:
            reason = str(exc)
        finally:
            self._finish(reason)
            self._writer.close()

    async def _route(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "heartbeat":
            return
        if kind in ("ack", "error"):
            command_id = message.get("id")
            future = self._replies.get(command_id) if command_id is not None else None
            if future is not None:
                if not future.done():
                    future.set_result(message)
                return
        if self._inbox.full() and kind == "progress":
            return
        await self._inbox.put(message)

    def _finish(self, reason: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        for future in self._replies.values():
            if not future.done():
                future.set_exception(ChannelLost(reason))
        # The end marker must get in even when the caller left the inbox full.
        while self._inbox.full():
            self._inbox.get_nowait()
        self._inbox.put_nowait(None)


async def _read_message(reader: asyncio.StreamReader) -> dict[str, Any]:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise ChannelLost("the worker closed the connection") from None
    except asyncio.LimitOverrunError:
        raise ChannelError("the worker sent a line over the limit") from None
    except OSError as exc:
        raise ChannelLost(f"the connection failed: {_why(exc)}") from None
    try:
        message = protocol.decode(line)
    except protocol.ProtocolError as exc:
        raise ChannelError(f"the worker sent a bad message ({exc.message})") from None
    if message["type"] not in protocol.SERVER_TYPES:
        raise ChannelError(f"the worker sent an unknown message type {message['type']!r:.60}")
    return message


def _check_hello(message: dict[str, Any]) -> None:
    if message["type"] != "hello":
        raise ChannelError(f"expected hello from the worker, got {message['type']!r:.60}")
    version = message.get("protocol")
    if version != protocol.PROTOCOL_VERSION:
        raise ProtocolMismatch(
            f"the worker speaks channel protocol {version!r:.20}, this client speaks "
            f"{protocol.PROTOCOL_VERSION}: run the same tui-scraper version for both"
        )


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
