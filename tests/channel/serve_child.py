"""A worker stand-in in its own process: serves a channel and publishes a counter.

    python -m tests.channel.serve_child SOCKET_PATH

Prints "ready" once the socket listens; SIGTERM stops it. Tests SIGSTOP/SIGCONT it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from tui_scraper.runtime.channel.protocol import Command, Reply
from tui_scraper.runtime.channel.server import ChannelServer, ServerLimits


async def serve(path: Path) -> None:
    count = 0
    server: ChannelServer | None = None

    def snapshot() -> dict[str, Any]:
        assert server is not None
        return {"count": count, "accepted": server.stats.accepted}

    async def handle(command: Command) -> Reply:
        return Reply.accepted(count=count)

    server = ChannelServer(path, snapshot, handle, limits=ServerLimits(heartbeat=0.1))
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    while not stop.is_set():
        count += 1
        server.publish_progress({"count": count})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.05):
                await stop.wait()
    await server.close()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
