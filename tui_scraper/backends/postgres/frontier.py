"""The pages table as the frontier: claim, requeue, checkpoint, counts.

Claims are batches taken with FOR UPDATE SKIP LOCKED, so workers on other connections (or
machines) never wait for each other and never get the same row; each claimed row names its
claimer and until when it holds. A checkpoint writes only rows still claimed by its own store
(or back in the queue, claimed by nobody): a worker that was stopped past its claims and woke up
cannot commit over the results of the worker that took them over, nor over rows they settled.
Dedup is the UNIQUE (session_id, url) constraint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from ...domain.errors import PageNotFound, SessionNotFound, StorageUnavailable
from ...domain.progress import Progress
from ...domain.records import ClaimedPage, PageRecord, PageResult
from ...domain.status import PageStatus
from ..records import download_rows
from . import notify
from .analytics import add_rows, written_results
from .blobs import BlobError, sha_of_path
from .rows import CLAIM_COLUMNS, PAGE_COLUMNS, claimed_page, dumps, one_statement, page_record

if TYPE_CHECKING:
    from ...ports import AnalyticsTally

Conn = AsyncConnection[Any]
NOW_SQL = "extract(epoch from clock_timestamp())::double precision"

_CLAIM_SQL = (
    "UPDATE pages SET status = 'fetching', lease_owner = %(owner)s, "
    f"lease_until = {NOW_SQL} + %(ttl)s "
    "WHERE id IN (SELECT id FROM pages WHERE session_id = %(session)s AND status = 'queued' "
    "AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s) "
    "ORDER BY depth, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    f"RETURNING {CLAIM_COLUMNS}"
)
_LAPSED_SQL = (
    "UPDATE pages SET status = 'queued', lease_owner = NULL, lease_until = NULL "
    "WHERE id IN (SELECT id FROM pages p WHERE session_id = %s AND status = 'fetching' "
    f"AND (lease_until < {NOW_SQL} OR EXISTS (SELECT 1 FROM session_workers w "
    # A registered worker whose lock is gone was killed: its claims need not wait out the lease.
    "WHERE w.session_id = p.session_id AND w.worker_id = p.lease_owner "
    "AND NOT lease_lock_held(w.lock_key))) FOR UPDATE SKIP LOCKED)"
)
_RESULT_COLUMNS = (
    ("id", "bigint"),
    ("status", "text"),
    ("attempts", "integer"),
    ("next_attempt_at", "float8"),
    ("http_status", "integer"),
    ("content_type", "text"),
    ("encoding", "text"),
    ("content_hash", "text"),
    ("path", "text"),
    ("title", "text"),
    ("extracted", "text"),
    ("error", "text"),
    ("fetched_at", "float8"),
    ("elapsed_ms", "float8"),
    ("bytes", "bigint"),
    ("final_url", "text"),
    ("request_head", "bytea"),
    ("response_head", "bytea"),
    ("etag", "text"),
    ("last_modified", "text"),
)
_UPDATE_PAGES_SQL = (
    "UPDATE pages p SET status = v.status, attempts = v.attempts, "
    "next_attempt_at = v.next_attempt_at, http_status = v.http_status, "
    "content_type = v.content_type, encoding = v.encoding, content_hash = v.content_hash, "
    "raw_html_storage_path = v.path, title = v.title, extracted_data = v.extracted::jsonb, "
    "error_details = v.error::jsonb, fetched_at = v.fetched_at, elapsed_ms = v.elapsed_ms, "
    "bytes = v.bytes, final_url = v.final_url, request_head = v.request_head, "
    "response_head = v.response_head, etag = v.etag, last_modified = v.last_modified, "
    "lease_owner = NULL, lease_until = NULL "
    "FROM unnest("
    + ", ".join(f"%s::{kind}[]" for _name, kind in _RESULT_COLUMNS)
    + ") AS v("
    + ", ".join(name for name, _kind in _RESULT_COLUMNS)
    + ") WHERE p.id = v.id AND p.session_id = %s "
    # Still this claimer's, or back in the queue unclaimed: never a row another claimer holds
    # now, nor one already settled (a worker woken past its claims would write its stale result
    # over what the worker that took them over committed).
    "AND ((p.status = 'fetching' AND p.lease_owner = %s) "
    "OR (p.status = 'queued' AND p.lease_owner IS NULL)) RETURNING p.id"
)
# New links, exactly once each: the batch deduplicated, rows the session has dropped, at most
# `room` of them (the max_pages budget), in discovery order. ON CONFLICT is the guarantee.
_INSERT_LINKS_SQL = (
    "WITH v AS (SELECT DISTINCT ON (url) url, depth, parent, ord "
    "FROM unnest(%(urls)s::text[], %(depths)s::int[], %(parents)s::bigint[]) "
    "WITH ORDINALITY AS u(url, depth, parent, ord) ORDER BY url, ord), "
    "fresh AS (SELECT * FROM v WHERE NOT EXISTS (SELECT 1 FROM pages p "
    "WHERE p.session_id = %(session)s AND p.url = v.url) ORDER BY ord LIMIT %(room)s) "
    "INSERT INTO pages (session_id, url, depth, parent_id, status) "
    "SELECT %(session)s, url, depth, parent, 'queued' FROM fresh ORDER BY ord "
    "ON CONFLICT (session_id, url) DO NOTHING"
)
_INSERT_DOWNLOAD_SQL = (
    "INSERT INTO downloads (session_id, page_id, url, storage_path, mime_type, size, sha256, "
    "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, url) DO NOTHING"
)


@one_statement
async def requeue_lapsed(conn: Conn, session_id: str) -> int:
    """Claims whose holder let them lapse (killed, stopped, cut off) go back to the queue."""
    return (await conn.execute(_LAPSED_SQL, (session_id,))).rowcount


@one_statement
async def claim(
    conn: Conn, session_id: str, limit: int, now: float, owner: str, ttl: float
) -> list[ClaimedPage]:
    if limit <= 0:
        return []
    cursor = await conn.execute(
        _CLAIM_SQL,
        {"owner": owner, "ttl": ttl, "session": session_id, "now": now, "limit": limit},
    )
    claimed = [claimed_page(r) for r in await cursor.fetchall()]
    claimed.sort(key=lambda c: (c.depth, c.id))  # RETURNING keeps no order
    return claimed


@one_statement
async def renew_claims(conn: Conn, session_id: str, owner: str, ttl: float) -> int:
    cursor = await conn.execute(
        f"UPDATE pages SET lease_until = {NOW_SQL} + %s WHERE session_id = %s "
        "AND status = 'fetching' AND lease_owner = %s",
        (ttl, session_id, owner),
    )
    return cursor.rowcount


async def next_due_time(conn: Conn, session_id: str) -> float | None:
    ready = await (
        await conn.execute(
            "SELECT 1 FROM pages WHERE session_id = %s AND status = 'queued' "
            "AND next_attempt_at IS NULL LIMIT 1",
            (session_id,),
        )
    ).fetchone()
    if ready is not None:
        return 0.0
    row = await (
        await conn.execute(
            "SELECT min(next_attempt_at) FROM pages WHERE session_id = %s AND status = 'queued' "
            "AND next_attempt_at IS NOT NULL",
            (session_id,),
        )
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


@one_statement
async def requeue_fetching(conn: Conn, session_id: str) -> int:
    cursor = await conn.execute(
        "UPDATE pages SET status = 'queued', lease_owner = NULL, lease_until = NULL "
        "WHERE session_id = %s AND status = 'fetching'",
        (session_id,),
    )
    return cursor.rowcount


@one_statement
async def requeue_lost_content(conn: Conn, session_id: str) -> int:
    """Done pages whose stored content is gone (or empty when it was not) go back to the queue,
    attempts untouched: the row says "stored", the content table says otherwise, and it wins."""
    cursor = await conn.execute(
        "UPDATE pages p SET status = 'queued' WHERE p.session_id = %s AND p.status = 'done' "
        "AND p.raw_html_storage_path IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM downloaded_content d WHERE d.sha256 = right(p.raw_html_storage_path, 64) "
        "AND (octet_length(d.data) > 0 OR coalesce(p.bytes, 0) = 0))",
        (session_id,),
    )
    return cursor.rowcount


async def missing_content(conn: Conn, pages: Sequence[PageRecord]) -> list[str]:
    """URLs of the done `pages` whose stored content is gone (or empty when it was not): one
    query for the whole batch, no content read. A path that names no row is gone too."""
    named = [
        (page.url, _sha_or_none(page.storage_path), page.size)
        for page in pages
        if page.status is PageStatus.DONE and page.storage_path
    ]
    shas = sorted({sha for _, sha, _ in named if sha is not None})
    stored: dict[str, int] = {}
    if shas:
        rows = await (
            await conn.execute(
                "SELECT sha256, octet_length(data) FROM downloaded_content WHERE sha256 = ANY(%s)",
                (shas,),
            )
        ).fetchall()
        stored = {sha: length for sha, length in rows}
    missing: list[str] = []
    for url, sha, size in named:
        length = stored.get(sha) if sha is not None else None
        if length is None or (length == 0 and size):
            missing.append(url)
    return missing


def _sha_or_none(storage_path: str | None) -> str | None:
    try:
        return sha_of_path(storage_path or "")
    except BlobError:
        return None


async def checkpoint(
    conn: Conn,
    session_id: str,
    results: Sequence[PageResult],
    progress: Progress,
    heartbeat: float,
    max_pages: int | None,
    claimer: str,
    lease: tuple[str, float] | None,
    tally: AnalyticsTally | None = None,
) -> int:
    """One batch in the caller's transaction. Every write is keyed, so a replay is a no-op (the
    analytics count only the rows this transaction wrote, so a replay adds nothing)."""
    row = await (
        await conn.execute(
            "SELECT pages_total FROM sessions WHERE id = %s FOR UPDATE", (session_id,)
        )
    ).fetchone()
    if row is None:
        raise SessionNotFound(session_id)
    await _require_blobs(conn, [r.storage_path for r in results if r.storage_path])
    total = start = int(row[0])
    claimed = [r for r in results if r.page_id is not None]
    kept = await _update_claimed(conn, session_id, claimed, claimer)
    # The rows this transaction wrote, and only those, are counted in the analytics: a row
    # another worker settled, or a replayed batch's, was counted when it was written.
    written = set(kept)
    if len(kept) < len({r.page_id for r in claimed}):
        # A row already settled keeps its result, but the links found on the page are still
        # offered (each is inserted once, whoever finds it): a replayed batch, or a worker
        # woken past its claims whose pages the others finished, adds nothing twice.
        kept |= await _settled(
            conn, session_id, [r.page_id for r in claimed if r.page_id not in kept]
        )
    for r in results:
        if r.page_id is None and (max_pages is None or total < max_pages):
            total += await _settle_by_url(conn, session_id, r)
    total_before_links = total
    found = [link for r in results if r.page_id is None or r.page_id in kept for link in r.links]
    inserted = 0
    if found:
        room = None if max_pages is None else max(0, max_pages - total)
        if room is None or room > 0:
            cursor = await conn.execute(
                _INSERT_LINKS_SQL,
                {
                    "urls": [link.url for link in found],
                    "depths": [link.depth for link in found],
                    "parents": [link.parent_id for link in found],
                    "session": session_id,
                    "room": room,
                },
            )
            inserted = max(0, cursor.rowcount)
    downloads = download_rows(session_id, results, heartbeat)
    if downloads:
        async with conn.cursor() as cursor:
            await cursor.executemany(_INSERT_DOWNLOAD_SQL, downloads)
    if tally is not None:
        await add_rows(conn, session_id, tally(written_results(results, written), heartbeat))
    stored = progress.to_dict()
    stored["queued"] = progress.queued + inserted
    token, until = lease if lease is not None else (None, None)
    await conn.execute(
        "SELECT checkpoint_session_progress(%s, %s, %s::jsonb, %s, %s, %s)",
        (
            session_id,
            inserted + total_before_links - start,
            json.dumps(stored, sort_keys=True),
            heartbeat,
            token,
            until,
        ),
    )
    await notify.announce(conn, session_id)
    return inserted


async def _require_blobs(conn: Conn, paths: list[str]) -> None:
    """Invariant 3: a row names only content that is stored (FOR KEY SHARE: and stays so until
    this commits)."""
    if not paths:
        return
    wanted = {sha_of_path(p) for p in paths}
    cursor = await conn.execute(
        "SELECT sha256 FROM downloaded_content WHERE sha256 = ANY(%s) FOR KEY SHARE",
        (sorted(wanted),),
    )
    present = {r[0] for r in await cursor.fetchall()}
    missing = sorted(wanted - present)
    if missing:
        raise StorageUnavailable(
            f"stored content {missing[0]} is missing ({len(missing)} blob(s) written by this "
            "crawl are gone); the session can be resumed once it is restored"
        )


async def _update_claimed(
    conn: Conn, session_id: str, results: list[PageResult], claimer: str
) -> set[int]:
    """Every result in one statement; returns the ids written (a row another claimer holds now
    is left to it)."""
    if not results:
        return set()
    last: dict[int, PageResult] = {}
    for r in results:
        assert r.page_id is not None
        last[r.page_id] = r  # a page twice in one batch: the later result wins, as in SQLite
    columns: list[list[Any]] = [[] for _ in _RESULT_COLUMNS]
    for page_id, r in last.items():
        values = (
            page_id,
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
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    cursor = await conn.execute(_UPDATE_PAGES_SQL, (*columns, session_id, claimer))
    return {r[0] for r in await cursor.fetchall()}


async def _settled(conn: Conn, session_id: str, page_ids: list[int | None]) -> set[int]:
    cursor = await conn.execute(
        "SELECT id FROM pages WHERE session_id = %s AND id = ANY(%s) "
        "AND status IN ('done', 'failed', 'skipped')",
        (session_id, [i for i in page_ids if i is not None]),
    )
    return {r[0] for r in await cursor.fetchall()}


async def _settle_by_url(conn: Conn, session_id: str, r: PageResult) -> int:
    """A redirect target fetched under another name: stored under its own URL unless its row is
    already settled or being fetched. Returns 1 when a row was inserted."""
    cursor = await conn.execute(
        "SELECT id, status FROM pages WHERE session_id = %s AND url = %s FOR UPDATE",
        (session_id, r.url),
    )
    existing = await cursor.fetchone()
    inserted = 0
    if existing is None:
        cursor = await conn.execute(
            "INSERT INTO pages (session_id, url, depth, parent_id, status) "
            "VALUES (%s, %s, %s, %s, 'queued') ON CONFLICT (session_id, url) DO NOTHING "
            "RETURNING id",
            (session_id, r.url, r.depth, r.parent_id),
        )
        made = await cursor.fetchone()
        if made is None:
            return 0
        page_id, inserted = made[0], 1
    elif existing[1] == PageStatus.QUEUED.value:
        page_id = existing[0]
    else:
        return 0
    # The row is queued and claimed by nobody: any claimer name writes it.
    await _update_claimed(conn, session_id, [replace(r, page_id=page_id)], claimer="")
    return inserted


@one_statement
async def page_status(conn: Conn, session_id: str, url: str) -> PageStatus | None:
    row = await (
        await conn.execute(
            "SELECT status FROM pages WHERE session_id = %s AND url = %s", (session_id, url)
        )
    ).fetchone()
    return None if row is None else PageStatus(row[0])


@one_statement
async def page_counts(conn: Conn, session_id: str) -> dict[PageStatus, int]:
    counts = dict.fromkeys(PageStatus, 0)
    cursor = await conn.execute(
        "SELECT status, count(*) FROM pages WHERE session_id = %s GROUP BY status", (session_id,)
    )
    for status, count in await cursor.fetchall():
        counts[PageStatus(status)] = int(count)
    return counts


@one_statement
async def pages_after(
    conn: Conn,
    session_id: str,
    status: PageStatus | None,
    after_id: int,
    limit: int,
    search: str = "",
) -> list[PageRecord]:
    """One keyset page in id order, optionally only pages whose URL or title contains `search`
    (case-insensitive, `%`/`_` taken literally)."""
    sql = f"SELECT {PAGE_COLUMNS} FROM pages WHERE session_id = %s AND id > %s"
    params: list[Any] = [session_id, after_id]
    if status is not None:
        sql += " AND status = %s"
        params.append(PageStatus(status).value)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql += " AND (url ILIKE %s OR title ILIKE %s)"
        params += [pattern, pattern]
    sql += " ORDER BY id LIMIT %s"
    params.append(limit)
    cursor = await conn.execute(sql, params)
    return [page_record(r) for r in await cursor.fetchall()]


@one_statement
async def get_page(conn: Conn, page_id: int) -> PageRecord:
    cursor = await conn.execute(f"SELECT {PAGE_COLUMNS} FROM pages WHERE id = %s", (page_id,))
    row = await cursor.fetchone()
    if row is None:
        raise PageNotFound(page_id)
    return page_record(row)


@one_statement
async def seed_page(conn: Conn, session_id: str) -> PageRecord | None:
    cursor = await conn.execute(
        f"SELECT {PAGE_COLUMNS} FROM pages WHERE session_id = %s ORDER BY id LIMIT 1",
        (session_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else page_record(row)


@one_statement
async def recent_pages(conn: Conn, session_id: str, limit: int) -> list[PageRecord]:
    cursor = await conn.execute(
        f"SELECT {PAGE_COLUMNS} FROM pages WHERE session_id = %s AND fetched_at IS NOT NULL "
        "ORDER BY fetched_at DESC, id DESC LIMIT %s",
        (session_id, limit),
    )
    return [page_record(r) for r in await cursor.fetchall()]
