"""A session's pages in URL order, streamed, for the diff of two sessions.

Ordered by `url COLLATE "C"`: byte order of UTF-8, which is code point order, the order in which
Python compares the strings, so two such streams merge in Python whatever the database's
collation. No index has that order, so the rows are sorted once by the server and read through
a server-side cursor, rather than sorted again for every keyset page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection

from ...domain.records import PageState
from ...domain.status import PageStatus

__all__ = ["page_states"]

_SQL = (
    "SELECT url, status, http_status, content_hash, raw_html_storage_path, id, "
    "encoding FROM pages "
    'WHERE session_id = %s ORDER BY url COLLATE "C"'
)


async def page_states(
    conn: AsyncConnection[Any], session_id: str, batch: int
) -> AsyncIterator[PageState]:
    """Rows of `session_id` in URL order; `conn` must be in a transaction (a named cursor)."""
    async with conn.cursor(name="tui_scraper_page_states") as cursor:
        cursor.itersize = batch
        await cursor.execute(_SQL, (session_id,))
        async for row in cursor:
            yield PageState(row[0], PageStatus(row[1]), row[2], row[3], row[4], row[5], row[6])
