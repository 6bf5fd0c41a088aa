"""Shared pieces of the live channel tests: short socket paths, a tiny worker, a condition wait."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.runtime.channel.protocol import Command, Reply


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not tmp_path: pytest's paths grow with the test's name, and AF_UNIX paths are short.
    path = Path(tempfile.mkdtemp(prefix="ch", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(data_dir: Path) -> Path:
    return socket_path(data_dir, uuid.uuid4().hex)


class FakeWorker:
    """What a worker hands the server: a counter as its snapshot, and a command log."""

    def __init__(self) -> None:
        self.count = 0
        self.commands: list[Command] = []
        self.block: asyncio.Event | None = None

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count, "title": "\x1b[31m[b]untrusted[/b]\x1b[0m"}

    async def handle(self, command: Command) -> Reply:
        self.commands.append(command)
        if self.block is not None:
            await self.block.wait()
        if command.kind == "cancel":
            return Reply.refused("this session cannot be cancelled now")
        if command.kind == "interrupt":
            raise RuntimeError("the handler broke")
        return Reply.accepted(kind=command.kind)


@pytest.fixture
def worker() -> FakeWorker:
    return FakeWorker()


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, what: str = ""
) -> None:
    """Poll a condition until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)
