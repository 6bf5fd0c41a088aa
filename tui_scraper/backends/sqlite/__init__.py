"""The only code that writes SQL or touches the data directory."""

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
