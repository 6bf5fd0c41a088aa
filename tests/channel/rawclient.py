"""A client that speaks raw bytes, to send what a well-behaved client never would."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from tui_scraper.runtime.channel.protocol import MAX_SERVER_LINE


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, path: Path) -> RawClient:
        reader, writer = await asyncio.open_unix_connection(os.fspath(path), limit=MAX_SERVER_LINE)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next message, or None at the end of the connection."""
        try:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
        except ConnectionError:  # a reset, or our own write that failed on a closed peer
            return None
        if not line:
            return None
        message = json.loads(line)
        assert isinstance(message, dict)
        return message

    async def read_type(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of `kind`, skipping others (heartbeats, progress)."""
        while True:
            message = await self.read(timeout)
            assert message is not None, f"closed before a {kind}"
            if message["type"] == kind:
                return message

    async def rest(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Every message until the server closes the connection."""
        messages = []
        while (message := await self.read(timeout)) is not None:
            messages.append(message)
        return messages

    def close(self) -> None:
        self.writer.close()
