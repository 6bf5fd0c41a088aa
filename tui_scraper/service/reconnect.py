"""Re-attach to a worker's channel: full-jitter backoff and a watcher that reports its state.

A client that loses the channel (the worker restarts its socket, is stopped for a while, or the
connection breaks) tries again after `random(0, min(cap, base·2^n))` seconds — full jitter, so
many clients of one worker do not come back in one burst — and starts again from a fresh
snapshot. The caller's `is_alive` probe (the lease check) decides when to give up: `Gone`.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tui_scraper.backoff import backoff_delay
from tui_scraper.runtime.channel.paths import ChannelError
from tui_scraper.runtime.channel.protocol import CommandKind

from .channel_client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    ChannelClient,
    ChannelLost,
    ProtocolMismatch,
)

RECONNECT_BASE: Final = 0.25
RECONNECT_CAP: Final = 5.0

AliveProbe = Callable[[], bool | Awaitable[bool]]


def reconnect_delay(
    attempt: int,
    rng: random.Random | None = None,
    *,
    base: float = RECONNECT_BASE,
    cap: float = RECONNECT_CAP,
) -> float:
    """Seconds to wait before retry `attempt` (0 = the first retry after a loss)."""
    return backoff_delay(attempt, base=base, cap=cap, rng=rng)


@dataclass(frozen=True)
class Connected:
    """(Re)connected: `snapshot` (the snapshot message's `data`) is the fresh state to redraw
    from; forget what came before."""

    snapshot: dict[str, Any]
    hello: dict[str, Any]


@dataclass(frozen=True)
class Reconnecting:
    """The channel is lost; the next try (number `attempt`) is in `in_seconds`."""

    in_seconds: float
    attempt: int
    reason: str


@dataclass(frozen=True)
class Gone:
    """The worker is not alive any more (the probe said so): the watch ends."""

    reason: str


@dataclass(frozen=True)
class Message:
    """A `progress` or `event` message from the worker, whole (`type` and `data`)."""

    message: dict[str, Any]


WatchItem = Connected | Reconnecting | Gone | Message


class ReconnectingWatcher:
    """`async for item in watcher:` — Connected, Message…, Reconnecting…, Connected, … Gone."""

    def __init__(
        self,
        path: Path,
        is_alive: AliveProbe,
        *,
        rng: random.Random | None = None,
        base: float = RECONNECT_BASE,
        cap: float = RECONNECT_CAP,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self.is_alive = is_alive
        self.rng = rng
        self.base = base
        self.cap = cap
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._client: ChannelClient | None = None

    @property
    def client(self) -> ChannelClient | None:
        """The live connection, if there is one right now."""
        return self._client

    async def command(self, kind: CommandKind, **kwargs: Any) -> dict[str, Any]:
        """Send a command over the current connection; ChannelLost while reconnecting."""
        client = self._client
        if client is None:
            raise ChannelLost("not connected to the worker")
        return await client.command(kind, **kwargs)

    def __aiter__(self) -> AsyncIterator[WatchItem]:
        return self._watch()

    async def _watch(self) -> AsyncIterator[WatchItem]:
        attempt = 0
        while True:
            try:
                client = await ChannelClient.connect(
                    self.path, timeout=self.connect_timeout, idle_timeout=self.idle_timeout
                )
            except ProtocolMismatch:
                raise  # another try speaks the same version: tell the caller at once
            except ChannelError as exc:
                reason = str(exc)
            else:
                attempt = 0
                self._client = client
                try:
                    yield Connected(client.snapshot["data"], client.hello)
                    async for message in client.messages(with_snapshot=False):
                        yield Message(message)
                    reason = client.closed_reason or "the connection ended"
                finally:
                    self._client = None
                    await client.close()
            if not await self._alive():
                yield Gone(reason)
                return
            delay = reconnect_delay(attempt, self.rng, base=self.base, cap=self.cap)
            attempt += 1
            yield Reconnecting(delay, attempt, reason)
            await asyncio.sleep(delay)

    async def _alive(self) -> bool:
        answer = self.is_alive()
        if inspect.isawaitable(answer):
            return bool(await answer)
        return bool(answer)
