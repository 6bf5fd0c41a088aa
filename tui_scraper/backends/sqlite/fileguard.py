"""Refuse a database file we must not touch, by reading its header bytes only.

Opening a file read-write with SQLite can create -wal/-shm files (and, for a WAL database,
write to it) before the first error surfaces. So garbage, truncated and newer-schema files are
recognised here from the 100-byte header, without SQLite, and the file is left exactly as it was.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ...domain.errors import DatabaseError
from .migrations import LATEST_VERSION

_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100


def refuse(path: Path, why: str) -> DatabaseError:
    return DatabaseError(f"{path} is not a tui-scraper database ({why}); it was left untouched")


def check_database_file(path: Path) -> int | None:
    """Return the file's user_version, None if there is no file (or an empty one); else raise."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            # SQLite would fail with a bare "unable to open database file"; and creating the
            # file at the link's target would put the user's data somewhere they did not look.
            raise DatabaseError(
                f"{path} is a symlink to {os.readlink(path)}, which does not exist"
            ) from None
        return None
    except OSError as exc:
        raise DatabaseError(f"{path} cannot be used: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise refuse(path, "not a regular file")
    size = st.st_size
    if size == 0:
        # SQLite treats an empty file as an empty database; a crash right after we created it
        # must not lock the user out.
        return None
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER_SIZE)
    except OSError as exc:
        raise DatabaseError(f"{path} cannot be read: {exc.strerror}") from None
    if len(header) < _HEADER_SIZE or not header.startswith(_MAGIC):
        raise refuse(path, "file is not a database")
    page_size = int.from_bytes(header[16:18], "big")
    if page_size == 1:
        page_size = 65536
    if page_size < 512 or page_size & (page_size - 1):
        raise refuse(path, "file is not a database")
    version = int.from_bytes(header[60:64], "big", signed=True)
    if version > LATEST_VERSION:
        raise DatabaseError(
            f"{path} has schema version {version}, newer than this tui-scraper understands "
            f"({LATEST_VERSION}); upgrade tui-scraper. The file was left untouched"
        )
    if version < 0:
        raise refuse(path, f"unknown schema version {version}")
    wal = Path(f"{path}-wal")
    if size % page_size and not _nonempty(wal):
        # With a -wal beside it, a partial last page is a WAL checkpoint that a full disk cut short
        # (EFBIG/ENOSPC mid-write): every committed page is still in the WAL, and SQLite reads
        # the database's size from the WAL's commit frame. Refusing it would lock the user out
        # of an intact database.
        raise refuse(path, "file is truncated")
    # The in-header page count is valid when the "version-valid-for" number equals the change
    # counter. A -wal file may legitimately hold pages past the end of the main file.
    change_counter = int.from_bytes(header[24:28], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    page_count = int.from_bytes(header[28:32], "big")
    header_size_valid = valid_for == change_counter and page_count > 0
    if header_size_valid and not _nonempty(wal) and size < page_count * page_size:
        raise refuse(path, "file is truncated")
    return version


def _nonempty(path: Path) -> bool:
    try:
        return os.stat(path).st_size > 0
    except FileNotFoundError:
        return False
