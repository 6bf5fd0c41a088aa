"""The one opener of a session store: SQLite in the data dir, or PostgreSQL at a URL.

Every `Store.open` outside `backends/` goes through `open_store`, so a command, the app and a
detached worker given the same `StoreLocation` open the same store. The PostgreSQL backend is
imported only for a postgresql URL: a SQLite user never loads its driver.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..domain.errors import ScraperError
from ..domain.location import StoreLocation
from ..paths import ensure_data_dir

if TYPE_CHECKING:
    from ..ports import SessionStore

__all__ = [
    "BackendMissing",
    "as_location",
    "blob_writer_module",
    "collect_leftovers",
    "interrupt_now",
    "open_store",
]

# Named, not imported: the module is another backend's, loaded only when a URL asks for it.
POSTGRES_MODULE = "tui_scraper.backends.postgres"
POSTGRES_EMERGENCY_MODULE = "tui_scraper.backends.postgres.emergency"
# The modules of each backend's picklable blob writer: a fetch worker unpickles one, so the
# forkserver preloads it (named here so choosing it imports neither backend).
SQLITE_BLOBS_MODULE = "tui_scraper.backends.sqlite.blobs"
POSTGRES_BLOBS_MODULE = "tui_scraper.backends.postgres.blobs"


class BackendMissing(ScraperError):
    """The store asked for cannot be opened by this installation (no PostgreSQL backend)."""


def as_location(where: StoreLocation | Path | str) -> StoreLocation:
    """A location from itself, or from a data dir (SQLite there): the form older callers use."""
    if isinstance(where, StoreLocation):
        return where
    return StoreLocation(Path(where))


def blob_writer_module(where: StoreLocation | Path | str) -> str:
    """The module of the blob writer the store of `where` hands its fetch workers."""
    return SQLITE_BLOBS_MODULE if as_location(where).db_url is None else POSTGRES_BLOBS_MODULE


async def open_store(where: StoreLocation | Path | str, *, readonly: bool = False) -> SessionStore:
    """The store of `where`. A writable open creates the data dir (logs, sockets and secrets
    live there whatever the backend) once the store is open; a read-only open creates
    nothing."""
    location = as_location(where)
    if location.db_url is None:
        from .sqlite import Store

        return await Store.open(location.data_dir, readonly=readonly)
    store_class = cast(Any, _postgres_module(POSTGRES_MODULE)).Store
    store = cast("SessionStore", await store_class.open(location.db_url, readonly=readonly))
    if not readonly:
        # After the database answered: a server that cannot be reached creates nothing here.
        try:
            ensure_data_dir(location.data_dir)
        except BaseException:
            await store.close()
            raise
    return store


def collect_leftovers(store: SessionStore) -> None:
    """Remove what a killed writer left half-made (SQLite: temp blob files in the data dir).
    Nothing to do for a backend that keeps its content in the database."""
    from .sqlite import Store

    if isinstance(store, Store):
        store.blobs.gc_tmp()


def interrupt_now(
    location: StoreLocation,
    session_ids: list[str],
    *,
    reason: str,
    who: str,
    timeout: float,
) -> list[str]:
    """The right backend's emergency transition: `session_ids` still running → interrupted,
    from this thread, without the event loop, bounded by `timeout`. Never raises."""
    try:
        if location.db_url is None:
            from .sqlite.db import DB_FILENAME
            from .sqlite.emergency import interrupt_now as sqlite_interrupt_now

            return sqlite_interrupt_now(
                location.data_dir / DB_FILENAME,
                session_ids,
                reason=reason,
                who=who,
                timeout=timeout,
            )
        module = cast(Any, _postgres_module(POSTGRES_EMERGENCY_MODULE))
        moved = module.interrupt_now(
            location.db_url, session_ids, reason=reason, who=who, timeout=timeout
        )
        return list(moved or [])
    except Exception:  # the caller exits right after: an unsettled session is reaped later
        return []


def _postgres_module(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BackendMissing(
            "this installation has no PostgreSQL backend "
            f"({exc.name or 'a module'} is missing); use SQLite (no --db) or install it"
        ) from None
