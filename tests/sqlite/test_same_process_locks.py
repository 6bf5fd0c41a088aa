"""A second Store on a database file this process already has open keeps the process's SQLite
locks on it. Closing any descriptor of a file drops every POSIX lock the process holds on it;
the header check that reads the file before opening it would do exactly that, and another
process's connection could then take the file for unused and fold and reset the WAL under the
first Store. (The app opens a read-only Store for the queue's places while its own is open.)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.backends.sqlite.db import DB_FILENAME
from tui_scraper.backends.sqlite.fileguard import check_database_file
from tui_scraper.domain.errors import DatabaseError

# From another process: whether a write lock on SQLite's SHARED byte range (PENDING_BYTE + 2,
# 510 bytes) can be taken — it cannot while any connection of ours holds its shared lock.
_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002, 0)
except OSError:
    print("held")
else:
    print("free")
"""


def shared_lock_of_this_process(db: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(db)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_probe_sees_a_lock_dropped_by_closing_a_descriptor(tmp_path: Path) -> None:
    """The hazard itself, so the test below cannot pass for a probe that sees nothing."""

    async def run() -> tuple[str, str]:
        store = await Store.open(tmp_path)
        try:
            db = tmp_path / DB_FILENAME
            before = shared_lock_of_this_process(db)
            check_database_file(db)  # opens, reads and closes the file
            return before, shared_lock_of_this_process(db)
        finally:
            await store.close()

    assert asyncio.run(run()) == ("held", "free")


@pytest.mark.parametrize("readonly", [True, False])
def test_a_second_store_opened_and_closed_keeps_the_first_ones_locks(
    tmp_path: Path, readonly: bool
) -> None:
    async def run() -> list[str]:
        first = await Store.open(tmp_path)
        seen = []
        try:
            db = tmp_path / DB_FILENAME
            seen.append(shared_lock_of_this_process(db))
            second = await Store.open(tmp_path, readonly=readonly)
            await second.close()
            seen.append(shared_lock_of_this_process(db))
            # The first Store still works with the file.
            sessions = await first.list_sessions()
            seen.append(str(len(sessions)))
        finally:
            await first.close()
        return seen

    assert asyncio.run(run()) == ["held", "held", "0"]


def test_a_file_no_store_of_this_process_holds_is_checked_again(tmp_path: Path) -> None:
    """The header check is skipped only while a Store here holds the file: once all are
    closed, a foreign file put in its place is refused as before."""

    async def open_close() -> None:
        store = await Store.open(tmp_path)
        await store.close()

    asyncio.run(open_close())
    db = tmp_path / DB_FILENAME
    for sidecar in ("-wal", "-shm"):
        Path(f"{db}{sidecar}").unlink(missing_ok=True)
    db.write_bytes(b"not a database at all" * 400)
    with pytest.raises(DatabaseError, match="not a"):
        asyncio.run(open_close())
