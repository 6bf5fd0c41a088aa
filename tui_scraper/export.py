"""Export a session's pages as JSON Lines or CSV, streamed: rows are read in keyset pages and
written as they come, so a million-page session never sits in memory."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .session.errors import ConfigError
from .session.records import PageRecord
from .store.db import StorageUnavailable

if TYPE_CHECKING:
    from .store import Store

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "url",
    "status",
    "http_status",
    "content_type",
    "encoding",
    "title",
    "depth",
    "attempts",
    "size",
    "elapsed_ms",
    "fetched_at",
    "content_hash",
    "storage_path",
    "extracted",
    "error",
)
FLUSH_ROWS = 500


def page_to_record(page: PageRecord) -> dict[str, Any]:
    return {
        "url": page.url,
        "status": page.status.value,
        "http_status": page.http_status,
        "content_type": page.content_type,
        "encoding": page.encoding,
        "title": page.title,
        "depth": page.depth,
        "attempts": page.attempts,
        "size": page.size,
        "elapsed_ms": page.elapsed_ms,
        "fetched_at": page.fetched_at,
        "content_hash": page.content_hash,
        "storage_path": page.storage_path,
        "extracted": page.extracted,
        "error": page.error,
    }


def _format_rows(records: list[dict[str, Any]], fmt: str, header: bool) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    if header:
        writer.writeheader()
    for record in records:
        row = dict(record)
        for key in ("extracted", "error"):
            row[key] = json.dumps(row[key], ensure_ascii=False) if row[key] is not None else ""
        writer.writerow(row)
    return buffer.getvalue()


async def export_pages(store: Store, session_id: str, fmt: str, path: Path | None) -> int:
    """Write every stored page; to `path` (atomically: a temp file renamed at the end) or stdout."""
    if fmt not in FORMATS:
        raise ConfigError("format", f"must be one of {', '.join(FORMATS)}")
    out: TextIO
    tmp: Path | None = None
    if path is None:
        out = sys.stdout
    else:
        if path.exists() and path.is_dir():
            raise ConfigError("output", f"{path} is a directory")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            out = open(tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ConfigError("output", f"cannot write {path}: {exc.strerror}") from exc
    count = 0
    pending: list[dict[str, Any]] = []
    header = True
    unreadable: list[str] = []
    try:
        async for page in store.iter_pages(session_id):
            pending.append(page_to_record(page))
            if len(pending) >= FLUSH_ROWS:
                unreadable += await asyncio.to_thread(_unreadable, store.data_dir, pending)
                text = _format_rows(pending, fmt, header)
                await asyncio.to_thread(out.write, text)
                header = False
                count += len(pending)
                pending = []
        if pending or header:
            unreadable += await asyncio.to_thread(_unreadable, store.data_dir, pending)
            await asyncio.to_thread(out.write, _format_rows(pending, fmt, header))
            count += len(pending)
        await asyncio.to_thread(out.flush)
        if tmp is not None and path is not None:
            os.fsync(out.fileno())
            out.close()
            os.replace(tmp, path)
            tmp = None
    finally:
        if tmp is not None:
            out.close()
            tmp.unlink(missing_ok=True)
    if unreadable:
        # The rows are exported; the content some of them name is not there to read. Said
        # once, and not as success: the user must know before trusting the export.
        raise UnreadableContent(
            f"exported {count} pages, but the stored content of {len(unreadable)} is missing or "
            f"damaged (first: {unreadable[0]}); crawl them again to restore it"
        )
    return count


class UnreadableContent(StorageUnavailable):
    """Pages whose blob file is missing or empty (deleted, truncated): exit 1, not 0."""


def _unreadable(data_dir: Path, records: list[dict[str, Any]]) -> list[str]:
    """URLs of done pages whose blob is missing or empty: a stat each, no reading."""
    bad: list[str] = []
    for record in records:
        rel = record.get("storage_path")
        if record.get("status") != "done" or not rel:
            continue
        try:
            if (data_dir / rel).stat().st_size == 0 and record.get("size"):
                bad.append(str(record["url"]))
        except OSError:
            bad.append(str(record["url"]))
    return bad
