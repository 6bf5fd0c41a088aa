"""A session's pages in URL order, a batch at a time, for the diff of two sessions.

SQLite compares text with BINARY (memcmp of UTF-8), which is code point order: the order in
which Python compares the strings, so two such streams merge in Python. The keyset walks the
UNIQUE (session_id, url) index.
"""

from __future__ import annotations

import sqlite3

from ...domain.records import PageState
from ...domain.status import PageStatus

__all__ = ["page_states_after"]

_SQL = (
    "SELECT url, status, http_status, content_hash, raw_html_storage_path, id, "
    "encoding FROM pages "
    "WHERE session_id = ? AND url > ? ORDER BY url LIMIT ?"
)


def page_states_after(
    conn: sqlite3.Connection, session_id: str, after_url: str, limit: int
) -> list[PageState]:
    return [
        PageState(row[0], PageStatus(row[1]), row[2], row[3], row[4], row[5], row[6])
        for row in conn.execute(_SQL, (session_id, after_url, limit))
    ]
