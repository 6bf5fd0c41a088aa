"""The only code that writes SQL or touches the data directory."""

from .blobs import BlobError, BlobStore, read_blob, write_blob
from .control import ControlNotFound
from .db import StorageUnavailable
from .frontier import PageNotFound
from .sessions import NotDismissable
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
