"""Rows → records, for every backend: the column lists and their converters, kept side by side
so the two never drift apart, and the same in SQLite and PostgreSQL but for how a JSON column
comes back (text to decode in SQLite, already decoded from PostgreSQL's jsonb)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..domain.config import CrawlConfig
from ..domain.progress import Progress
from ..domain.records import (
    ClaimedPage,
    ControlCommand,
    ControlRecord,
    EventRecord,
    PageRecord,
    PageResult,
    SessionRecord,
)
from ..domain.status import PageStatus, Status

__all__ = [
    "CLAIM_COLUMNS",
    "CONTROL_COLUMNS",
    "EVENT_COLUMNS",
    "PAGE_COLUMNS",
    "RowReader",
    "claimed_page",
    "download_rows",
    "dumps",
    "event_record",
]

# The session columns differ by backend (how the config is read back): each spells its own.
EVENT_COLUMNS = "id, session_id, at, kind, from_status, to_status, reason, who"
PAGE_COLUMNS = (
    "id, session_id, url, depth, status, attempts, next_attempt_at, http_status, content_type, "
    "encoding, content_hash, raw_html_storage_path, title, extracted_data, error_details, "
    "fetched_at, elapsed_ms, bytes, parent_id, request_head, response_head, etag, last_modified"
)
CLAIM_COLUMNS = "id, url, depth, attempts, parent_id"
CONTROL_COLUMNS = "id, session_id, command, args, who, requested_at, applied_at, outcome"


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def event_record(row: tuple[Any, ...]) -> EventRecord:
    return EventRecord(
        id=row[0],
        session_id=row[1],
        at=row[2],
        kind=row[3],
        from_status=None if row[4] is None else Status(row[4]),
        to_status=None if row[5] is None else Status(row[5]),
        reason=row[6],
        who=row[7],
    )


def claimed_page(row: tuple[Any, ...]) -> ClaimedPage:
    return ClaimedPage(id=row[0], url=row[1], depth=row[2], attempts=row[3], parent_id=row[4])


def download_rows(
    session_id: str, results: Sequence[PageResult], at: float
) -> list[tuple[Any, ...]]:
    """The rows of the files a checkpoint's results downloaded, in the insert's column order:
    session, page, url, storage path, MIME type, size, sha256, when."""
    return [
        (
            session_id,
            r.page_id,
            r.download.url,
            r.download.storage_path,
            r.download.mime_type,
            r.download.size,
            r.download.sha256,
            at,
        )
        for r in results
        if r.download is not None
    ]


def _bytes(value: Any) -> bytes | None:
    """A BLOB/bytea as bytes (a driver may hand back a memoryview)."""
    return None if value is None else bytes(value)


class RowReader:
    """The converters of the records with JSON columns; `json_column` turns what the driver
    returns for one into its value. The config is always JSON text: CrawlConfig.from_json must
    see exactly what it wrote."""

    def __init__(self, json_column: Callable[[Any], Any]) -> None:
        self._json = json_column

    def session_record(self, row: tuple[Any, ...]) -> SessionRecord:
        return SessionRecord(
            id=row[0],
            target_url=row[1],
            status=Status(row[2]),
            config=CrawlConfig.from_json(row[3]),
            progress=Progress.from_dict(self._json(row[4])),
            summary=self._json(row[5]),
            error=row[6],
            created_at=row[7],
            start_time=row[8],
            end_time=row[9],
            last_updated=row[10],
            lease_owner=row[11],
            heartbeat_at=row[12],
            dismissed_at=row[13],
        )

    def page_record(self, row: tuple[Any, ...]) -> PageRecord:
        return PageRecord(
            id=row[0],
            session_id=row[1],
            url=row[2],
            depth=row[3],
            status=PageStatus(row[4]),
            attempts=row[5],
            next_attempt_at=row[6],
            http_status=row[7],
            content_type=row[8],
            encoding=row[9],
            content_hash=row[10],
            storage_path=row[11],
            title=row[12],
            extracted=self._json(row[13]),
            error=self._json(row[14]),
            fetched_at=row[15],
            elapsed_ms=row[16],
            size=row[17],
            parent_id=row[18],
            request_head=_bytes(row[19]),
            response_head=_bytes(row[20]),
            etag=row[21],
            last_modified=row[22],
        )

    def control_record(self, row: tuple[Any, ...]) -> ControlRecord:
        return ControlRecord(
            id=row[0],
            session_id=row[1],
            command=ControlCommand(row[2]),
            args=self._json(row[3]),
            who=row[4],
            requested_at=row[5],
            applied_at=row[6],
            outcome=row[7],
        )
