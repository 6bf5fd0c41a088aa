"""The only code that writes SQL or touches the data directory.

The names below are loaded on first use (PEP 562), not when the package is imported: a fetch
worker process unpickles the blob writer it is handed, which imports this package, and must not
load the store (sqlite3, aiosqlite, the migrations) that it never uses. Every name stays
importable from here as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...domain.errors import ControlNotFound, NotDismissable, PageNotFound
    from .blobs import BlobError, BlobStore, read_blob, write_blob
    from .db import StorageUnavailable
    from .store import Store

__all__ = [
    "BlobError",
    "BlobStore",
    "ControlNotFound",
    "NotDismissable",
    "PageNotFound",
    "StorageUnavailable",
    "Store",
    "read_blob",
    "write_blob",
]

# name -> the module that defines it, relative to this package
_WHERE = {
    "BlobError": ".blobs",
    "BlobStore": ".blobs",
    "read_blob": ".blobs",
    "write_blob": ".blobs",
    "StorageUnavailable": ".db",
    "Store": ".store",
    "ControlNotFound": "...domain.errors",
    "NotDismissable": "...domain.errors",
    "PageNotFound": "...domain.errors",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value  # once: later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
