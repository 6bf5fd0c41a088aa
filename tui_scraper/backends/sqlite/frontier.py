"""The pages table as the frontier: claim, requeue, checkpoint, counts. On a connection's thread."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...domain.errors import PageNotFound, SessionNotFound
from ...domain.progress import Progress
from ...domain.records import ClaimedPage, PageRecord, PageResult
from ...domain.status import PageStatus
from ..records import download_rows
from .analytics import add_rows
from .blobs import blob_looks_intact
from .rows import CLAIM_COLUMNS, PAGE_COLUMNS, claimed_page, dumps, page_record

if TYPE_CHECKING:
    from ...ports import AnalyticsTally

_CLAIM_SQL = (
    f"SELECT {CLAIM_COLUMNS} FROM pages "
    "WHERE session_id = ? AND status = 'queued' "
    "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
    "ORDER BY depth, id LIMIT ?"
)
_UPDATE_PAGE_SQL = (
    "UPDATE pages SET status = ?, attempts = ?, next_attempt_at = ?, http_status = ?, "
    "content_type = ?, encoding = ?, content_hash = ?, raw_html_storage_path = ?, title = ?, "
    "extracted_data = ?, error_details = ?, fetched_at = ?, elapsed_ms = ?, bytes = ?, "
    "final_url = ?, request_head = ?, response_head = ?, etag = ?, last_modified = ? "
    "WHERE id = ? AND session_id = ?"
)
_INSERT_LINK_SQL = (
    "INSERT OR IGNORE INTO pages (session_id, url, depth, parent_id, status) "
    "VALUES (?, ?, ?, ?, 'queued')"
)
_INSERT_DOWNLOAD_SQL = (
    "INSERT OR IGNORE INTO downloaded_content "
    "(session_id, page_id, url, storage_path, mime_type, size, sha256, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def claim(conn: sqlite3.Connection, session_id: str, limit: int, now: float) -> list[ClaimedPage]:
    if limit <= 0:
        return []
    rows = conn.execute(_CLAIM_SQL, (session_id, now, limit)).fetchall()
    if rows:
        conn.executemany(
            "UPDATE pages SET status = 'fetching' WHERE id = ?", [(r[0],) for r in rows]
        )
    return [claimed_page(r) for r in rows]


def next_due_time(conn: sqlite3.Connection, session_id: str) -> float | None:
    ready = conn.execute(
        "SELECT 1 FROM pages WHERE session_id = ? AND status = 'queued' "
        "AND next_attempt_at IS NULL LIMIT 1",
        (session_id,),
    ).fetchone()
    if ready is not None:
        return 0.0  # due now: a row without a retry time
    row = conn.execute(
        "SELECT min(next_attempt_at) FROM pages WHERE session_id = ? AND status = 'queued' "
        "AND next_attempt_at IS NOT NULL",
        (session_id,),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def requeue_fetching(conn: sqlite3.Connection, session_id: str) -> int:
    cursor = conn.execute(
        "UPDATE pages SET status = 'queued' WHERE session_id = ? AND status = 'fetching'",
        (session_id,),
    )
    return cursor.rowcount


def requeue_lost_content(conn: sqlite3.Connection, session_id: str, data_dir: str) -> int:
    """Done pages whose blob file is gone or empty (blobs/ deleted, truncated) go back to the queue,
    attempts untouched: their row says "stored", the disk says otherwise, and the disk wins.
    A stat per done page (no reading), once per crawl start."""
    rows = conn.execute(
        "SELECT id, raw_html_storage_path, bytes FROM pages WHERE session_id = ? "
        "AND status = 'done' AND raw_html_storage_path IS NOT NULL",
        (session_id,),
    ).fetchall()
    base = Path(data_dir)  # the stored paths ("blobs/ab/<sha>") are relative to the data dir
    lost = [(page_id,) for page_id, rel, size in rows if not blob_looks_intact(base, rel, size)]
    if lost:
        conn.executemany("UPDATE pages SET status = 'queued' WHERE id = ?", lost)
    return len(lost)


def checkpoint(
    conn: sqlite3.Connection,
    session_id: str,
    results: Sequence[PageResult],
    progress: Progress,
    heartbeat: float,
    max_pages: int | None,
    tally: AnalyticsTally | None = None,
) -> int:
    """One batch; the caller holds BEGIN IMMEDIATE. Every write is keyed, so a replay is a no-op
    (the analytics rows aside: this store never replays a checkpoint that committed)."""
    row = conn.execute("SELECT pages_total FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise SessionNotFound(session_id)
    total = int(row[0])
    by_id = [r for r in results if r.page_id is not None]
    if by_id:
        conn.executemany(_UPDATE_PAGE_SQL, [_page_params(session_id, r) for r in by_id])
    for r in results:
        if r.page_id is None and (max_pages is None or total < max_pages):
            total += _settle_by_url(conn, session_id, r)
    total_before_links = total
    links = [
        (session_id, link.url, link.depth, link.parent_id) for r in results for link in r.links
    ]
    inserted = 0
    if links:
        before = conn.total_changes
        if max_pages is None or total + len(links) <= max_pages:
            conn.executemany(_INSERT_LINK_SQL, links)
            inserted = conn.total_changes - before
        else:
            # Near the limit: one row at a time (no round trips: we are on the connection's thread)
            # so the count stops exactly at max_pages.
            room = max(0, max_pages - total)
            for params in links:
                if inserted >= room:
                    break
                inserted += conn.execute(_INSERT_LINK_SQL, params).rowcount
    downloads = download_rows(session_id, results, heartbeat)
    if downloads:
        conn.executemany(_INSERT_DOWNLOAD_SQL, downloads)
    if tally is not None:
        add_rows(conn, session_id, tally(results, heartbeat))
    added = inserted + total_before_links - int(row[0])
    # The links this commit queued are queued in the stored figures too: `sessions` and the live
    # view (which adds the same `inserted` after the commit) then agree on the queue.
    stored = progress.to_dict()
    stored["queued"] = progress.queued + inserted
    conn.execute(
        "UPDATE sessions SET pages_total = pages_total + ?, progress = ?, heartbeat_at = ? "
        "WHERE id = ?",
        (added, json.dumps(stored, sort_keys=True), heartbeat, session_id),
    )
    return inserted


def _settle_by_url(conn: sqlite3.Connection, session_id: str, r: PageResult) -> int:
    """A redirect target fetched under another name: store it under its own URL, unless its row
    is already settled or being fetched. Returns 1 when a row was inserted."""
    existing = conn.execute(
        "SELECT id, status FROM pages WHERE session_id = ? AND url = ?", (session_id, r.url)
    ).fetchone()
    if existing is None:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO pages (session_id, url, depth, parent_id, status) "
            "VALUES (?, ?, ?, ?, 'queued')",
            (session_id, r.url, r.depth, r.parent_id),
        )
        page_id = cursor.lastrowid
        inserted = cursor.rowcount
    elif existing[1] == PageStatus.QUEUED.value:
        page_id, inserted = existing[0], 0
    else:
        return 0
    params = list(_page_params(session_id, r))
    params[-2] = page_id
    conn.execute(_UPDATE_PAGE_SQL, params)
    return inserted


def _page_params(session_id: str, r: PageResult) -> tuple[Any, ...]:
    return (
        PageStatus(r.status).value,
        r.attempts,
        r.next_attempt_at,
        r.http_status,
        r.content_type,
        r.encoding,
        r.content_hash,
        r.storage_path,
        r.title,
        dumps(r.extracted),
        dumps(r.error),
        r.fetched_at,
        r.elapsed_ms,
        r.size,
        r.final_url,
        r.request_head,
        r.response_head,
        r.etag,
        r.last_modified,
        r.page_id,
        session_id,
    )


def page_status(conn: sqlite3.Connection, session_id: str, url: str) -> PageStatus | None:
    row = conn.execute(
        "SELECT status FROM pages WHERE session_id = ? AND url = ?", (session_id, url)
    ).fetchone()
    return None if row is None else PageStatus(row[0])


def page_counts(conn: sqlite3.Connection, session_id: str) -> dict[PageStatus, int]:
    # A covering scan of the (session_id, status, …) index range: no table rows are read.
    counts = dict.fromkeys(PageStatus, 0)
    rows = conn.execute(
        "SELECT status, count(*) FROM pages WHERE session_id = ? GROUP BY status", (session_id,)
    )
    for status, count in rows.fetchall():
        counts[PageStatus(status)] = int(count)
    return counts


def pages_after(
    conn: sqlite3.Connection, session_id: str, status: PageStatus | None, after_id: int, limit: int
) -> list[PageRecord]:
    """One keyset page in id order. NOT INDEXED: walk the rowid range (bounded by `limit`
    matches) rather than let the planner sort the whole session's rows for every page."""
    if status is None:
        sql = (
            f"SELECT {PAGE_COLUMNS} FROM pages NOT INDEXED WHERE id > ? AND session_id = ? "
            "ORDER BY id LIMIT ?"
        )
        params: tuple[Any, ...] = (after_id, session_id, limit)
    else:
        sql = (
            f"SELECT {PAGE_COLUMNS} FROM pages NOT INDEXED WHERE id > ? AND session_id = ? "
            "AND status = ? ORDER BY id LIMIT ?"
        )
        params = (after_id, session_id, PageStatus(status).value, limit)
    return [page_record(r) for r in conn.execute(sql, params).fetchall()]


def find_pages(
    conn: sqlite3.Connection,
    session_id: str,
    status: PageStatus | None,
    after_id: int,
    limit: int,
    search: str,
) -> list[PageRecord]:
    """Like `pages_after`, keeping only pages whose URL or title contains `search` (LIKE,
    ASCII case-insensitive, `%`/`_` taken literally). Bounded by `limit` matches, so one screen
    of a million-page session never loads more than that."""
    pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = (
        f"SELECT {PAGE_COLUMNS} FROM pages NOT INDEXED WHERE id > ? AND session_id = ? "
        + ("AND status = ? " if status is not None else "")
        + "AND (url LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\') ORDER BY id LIMIT ?"
    )
    params: list[Any] = [after_id, session_id]
    if status is not None:
        params.append(PageStatus(status).value)
    params += [pattern, pattern, limit]
    return [page_record(r) for r in conn.execute(sql, params).fetchall()]


def get_page(conn: sqlite3.Connection, page_id: int) -> PageRecord:
    row = conn.execute(f"SELECT {PAGE_COLUMNS} FROM pages WHERE id = ?", (page_id,)).fetchone()
    if row is None:
        raise PageNotFound(page_id)
    return page_record(row)


def seed_page(conn: sqlite3.Connection, session_id: str) -> PageRecord | None:
    """The start URL's row: the session's first page (sessions.create inserts it first)."""
    row = conn.execute(
        f"SELECT {PAGE_COLUMNS} FROM pages WHERE session_id = ? ORDER BY id LIMIT 1",
        (session_id,),
    ).fetchone()
    return None if row is None else page_record(row)


def recent_pages(conn: sqlite3.Connection, session_id: str, limit: int) -> list[PageRecord]:
    rows = conn.execute(
        f"SELECT {PAGE_COLUMNS} FROM pages WHERE session_id = ? AND fetched_at IS NOT NULL "
        "ORDER BY fetched_at DESC, id DESC LIMIT ?",
        (session_id, limit),
    ).fetchall()
    return [page_record(r) for r in rows]
