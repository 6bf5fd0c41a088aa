"""A recrawl's lookup of what an earlier session stored for the URLs of a claimed batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from ...domain.records import EarlierCapture, PreviousPage
from .rows import one_statement

__all__ = ["earlier_captures", "previous_pages"]

_SQL = (
    "SELECT url, etag, last_modified, content_hash, raw_html_storage_path, content_type, "
    "encoding FROM pages WHERE session_id = %s AND url = ANY(%s) AND status = 'done' "
    "AND raw_html_storage_path IS NOT NULL AND content_hash IS NOT NULL"
)


@one_statement
async def previous_pages(
    conn: AsyncConnection[Any], session_id: str, urls: Sequence[str]
) -> dict[str, PreviousPage]:
    if not urls:
        return {}
    cursor = await conn.execute(_SQL, (session_id, list(urls)))
    return {row[0]: PreviousPage(*row) for row in await cursor.fetchall()}


_CAPTURES_SQL = (
    "SELECT url, http_status, fetched_at, raw_html_storage_path FROM pages "
    "WHERE session_id = %s AND url = ANY(%s) AND status = 'done' "
    "AND raw_html_storage_path IS NOT NULL"
)


@one_statement
async def earlier_captures(
    conn: AsyncConnection[Any], session_id: str, urls: Sequence[str]
) -> dict[str, EarlierCapture]:
    if not urls:
        return {}
    cursor = await conn.execute(_CAPTURES_SQL, (session_id, list(urls)))
    return {row[0]: EarlierCapture(*row) for row in await cursor.fetchall()}
