"""Which way a client follows a database session: its worker's channel, or the store.

A worker serves its live channel in *its* data dir; a client on another machine (another data
dir, the same database) finds no socket there, and joined workers serve none at all. The
channel is used when its socket is here and a worker answers on it within a moment; otherwise
the store is followed (`store_follow`), which needs nothing but the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from tui_scraper.runtime.channel.paths import ChannelError, socket_path

from .channel_client import ChannelClient

# A worker greets within this (hello and a snapshot); a stopped one, or a stale socket file a
# killed worker left behind, does not, and the store is followed instead.
PROBE_TIMEOUT_S: Final = 2.0


async def channel_answers(
    data_dir: Path, session_id: str, *, timeout: float = PROBE_TIMEOUT_S
) -> bool:
    """Whether a worker of the session serves its live channel in this data dir now."""
    try:
        path = socket_path(data_dir, session_id)
    except ChannelError:
        return False  # a data dir whose socket path cannot exist: no worker serves one here
    if not path.exists():
        return False
    try:
        client = await ChannelClient.connect(path, timeout=timeout)
    except ChannelError:
        return False
    await client.close()
    return True
