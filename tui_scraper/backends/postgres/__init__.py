"""The PostgreSQL backend (psycopg 3): the same Store API as backends.sqlite, for many workers.

Imported only when a `postgresql://` location is used, so SQLite users never load psycopg.
"""

from ...domain.errors import StorageUnavailable
from .blobs import BlobError, BlobWriter
from .store import Store

__all__ = ["BlobError", "BlobWriter", "StorageUnavailable", "Store"]
