"""Secret header values kept in a 0600 file per session beside the database (never in it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..backends.sqlite.secrets import delete_secret_headers, load_secret_headers

__all__ = ["DataDirSecrets"]


class DataDirSecrets:
    """`ports.SessionSecrets` over the files of one data dir; file work runs off the loop."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = Path(data_dir)

    async def load(self, session_id: str) -> dict[str, str]:
        return await asyncio.to_thread(load_secret_headers, self._data_dir, session_id)

    async def delete(self, session_id: str) -> None:
        await asyncio.to_thread(delete_secret_headers, self._data_dir, session_id)
