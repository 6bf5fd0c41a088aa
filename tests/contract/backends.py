"""The backends the contract suite runs against, and what each needs to set up a test.

A backend joins the suite with one entry in BACKENDS: a factory that, given a fresh temp dir,
returns a harness for one empty store. The tests themselves use only the store's public API;
the harness holds the few things a test cannot do through that API (open a second handle on
the same storage, end a handle the way a killed process does, damage stored bytes, prove that
nothing was written).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tui_scraper.backends.sqlite import Store

# The API every backend offers, today spelled by the SQLite Store; a second backend offers the
# same public methods (tui_scraper.ports names the ones the engine and the runtime rely on).
ContractStore = Store


class Harness(Protocol):
    name: str

    async def open(self, *, readonly: bool = False) -> ContractStore:
        """Another handle on this test's storage (as a second process would open it)."""
        ...

    async def abandon(self, store: ContractStore) -> None:
        """End `store` as a SIGKILL would: no transition, no cleanup, its lease left to die."""
        ...

    def snapshot(self) -> object:
        """Everything stored, comparable with ==: equal snapshots mean nothing was written."""
        ...

    def damage_blob(self, relative_path: str, data: bytes) -> None:
        """Replace a stored blob's bytes with `data` (a dying disk, a stray editor)."""
        ...

    def remove_blob(self, relative_path: str) -> None: ...


class SqliteHarness:
    name = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.data_dir = tmp / "data"

    async def open(self, *, readonly: bool = False) -> ContractStore:
        return await Store.open(self.data_dir, readonly=readonly)

    async def abandon(self, store: ContractStore) -> None:
        # The kernel drops the flocks of a dead process; its connections just stop.
        for held in store._leases.values():
            os.close(held.fd)
            held.fd = -1
        store._leases.clear()
        db = store._db
        db._closed = True
        await db._reader.close()
        if db._writer is not None:
            await db._writer.close()

    def snapshot(self) -> object:
        files: dict[str, tuple[str, int, int]] = {}
        for path in sorted(self.data_dir.rglob("*")) if self.data_dir.exists() else []:
            if path.is_file():
                st = path.stat()
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                files[str(path.relative_to(self.data_dir))] = (digest, st.st_mtime_ns, st.st_mode)
        return files

    def damage_blob(self, relative_path: str, data: bytes) -> None:
        (self.data_dir / relative_path).write_bytes(data)

    def remove_blob(self, relative_path: str) -> None:
        (self.data_dir / relative_path).unlink()


BACKENDS: dict[str, Callable[[Path], Harness]] = {
    "sqlite": SqliteHarness,
}
