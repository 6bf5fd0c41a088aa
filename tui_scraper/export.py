"""Export a session's pages as JSON Lines or CSV, streamed: rows are read in keyset pages and
written as they come, so a million-page session never sits in memory."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from .domain.errors import ConfigError, StorageUnavailable
from .domain.records import PageRecord
from .outfile import open_output, open_stdout
from .safe_text import display_safe


class PageSource(Protocol):
    """What an export reads: the session's pages in id order, and which of them no longer
    have their stored content (the store knows where it keeps it: files, or the database)."""

    def iter_pages(self, session_id: str) -> AsyncIterator[PageRecord]: ...

    async def missing_content(self, pages: Sequence[PageRecord]) -> list[str]: ...


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


# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a formula
# (=HYPERLINK(...), +cmd|..., @SUM...). A leading apostrophe makes it plain text in every
# spreadsheet; the CSV stays parseable and the prefix is visible, so nothing is hidden.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _visible(value: Any) -> Any:
    """Every string in a record made safe for a terminal, as the UI shows it; the rest as is."""
    if isinstance(value, str):
        return display_safe(value, max(len(value), 1))
    if isinstance(value, dict):
        return {_visible(k): _visible(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_visible(v) for v in value]
    return value


def _format_rows(
    records: list[dict[str, Any]], fmt: str, header: bool, *, keep_formulas: bool = False
) -> str:
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
        if not keep_formulas:
            row = {k: neutralise_formula(v) if isinstance(v, str) else v for k, v in row.items()}
        writer.writerow(row)
    return buffer.getvalue()


async def export_pages(
    store: PageSource,
    session_id: str,
    fmt: str,
    path: Path | None,
    *,
    keep_formulas: bool = False,
) -> int:
    """Write every stored page to `path` (see outfile.py: streamed or atomically replaced) or
    to stdout. To a terminal, untrusted text is made visible (display_safe); to a file or a pipe
    it is written exactly. CSV cells that a spreadsheet would run are neutralised unless
    `keep_formulas`."""
    if fmt not in FORMATS:
        raise ConfigError("format", f"must be one of {', '.join(FORMATS)}")
    if path is None or str(path) == "-":
        out = open_stdout()
    else:
        # In a thread: opening a FIFO waits for its reader, and the UI's loop must not wait.
        out = await asyncio.to_thread(open_output, path)
    unreadable: list[str] = []
    with out:
        to_terminal = out.is_terminal
        count = 0
        pending: list[PageRecord] = []
        header = True

        async def write(pages: list[PageRecord], header: bool) -> None:
            nonlocal unreadable
            unreadable += await store.missing_content(pages)
            records = [page_to_record(page) for page in pages]
            shown = [_visible(r) for r in records] if to_terminal else records
            text = _format_rows(shown, fmt, header, keep_formulas=keep_formulas)
            await asyncio.to_thread(out.write, text.encode("utf-8"))

        async for page in store.iter_pages(session_id):
            pending.append(page)
            if len(pending) >= FLUSH_ROWS:
                await write(pending, header)
                header = False
                count += len(pending)
                pending = []
        if pending or header:
            await write(pending, header)
            count += len(pending)
        await asyncio.to_thread(out.commit)
    if unreadable:
        # The rows are exported; the content some of them name is not there to read. Said
        # once, and not as success: the user must know before trusting the export.
        raise UnreadableContent(
            f"exported {count} pages, but the stored content of {len(unreadable)} is missing or "
            f"damaged (first: {unreadable[0]}); crawl them again to restore it"
        )
    return count


class UnreadableContent(StorageUnavailable):
    """Pages whose stored content is missing or damaged (deleted, truncated): exit 1, not 0."""
