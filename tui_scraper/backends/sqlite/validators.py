"""A recrawl's lookup of what an earlier session stored for the URLs of a claimed batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ...domain.records import EarlierCapture, PreviousPage

__all__ = ["earlier_captures", "previous_pages"]

# Well under SQLite's bound on host parameters (32766 since 3.32), and a claim is smaller.
_CHUNK = 500

_SQL = (
    "SELECT url, etag, last_modified, content_hash, raw_html_storage_path, content_type, "
    "encoding FROM pages WHERE session_id = ? AND status = 'done' "
    "AND raw_html_storage_path IS NOT NULL AND content_hash IS NOT NULL AND url IN ({marks})"
)


def previous_pages(
    conn: sqlite3.Connection, session_id: str, urls: Sequence[str]
) -> dict[str, PreviousPage]:
    found: dict[str, PreviousPage] = {}
    for start in range(0, len(urls), _CHUNK):
        chunk = list(urls[start : start + _CHUNK])
        sql = _SQL.format(marks=", ".join("?" * len(chunk)))
        for row in conn.execute(sql, (session_id, *chunk)):
            found[row[0]] = PreviousPage(*row)
    return found


_CAPTURES_SQL = (
    "SELECT url, http_status, fetched_at, raw_html_storage_path FROM pages "
    "WHERE session_id = ? AND status = 'done' AND raw_html_storage_path IS NOT NULL "
    "AND url IN ({marks})"
)


def earlier_captures(
    conn: sqlite3.Connection, session_id: str, urls: Sequence[str]
) -> dict[str, EarlierCapture]:
    found: dict[str, EarlierCapture] = {}
    for start in range(0, len(urls), _CHUNK):
        chunk = list(urls[start : start + _CHUNK])
        sql = _CAPTURES_SQL.format(marks=", ".join("?" * len(chunk)))
        for row in conn.execute(sql, (session_id, *chunk)):
            found[row[0]] = EarlierCapture(*row)
    return found
