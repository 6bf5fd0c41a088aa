"""Rows → records in PostgreSQL: jsonb columns come back decoded by psycopg, except the config,
read as text so that CrawlConfig.from_json sees exactly what it wrote (backends/records.py holds
the column lists and converters both backends share)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..records import (
    CLAIM_COLUMNS,
    CONTROL_COLUMNS,
    EVENT_COLUMNS,
    PAGE_COLUMNS,
    RowReader,
    claimed_page,
    dumps,
    event_record,
)

__all__ = [
    "CLAIM_COLUMNS",
    "CONTROL_COLUMNS",
    "EVENT_COLUMNS",
    "PAGE_COLUMNS",
    "SESSION_COLUMNS",
    "claimed_page",
    "control_record",
    "dumps",
    "event_record",
    "one_statement",
    "page_record",
    "session_record",
]

SESSION_COLUMNS = (
    "id, target_url, status, config::text, progress, summary_results, error, created_at, "
    "start_time, end_time, last_updated, lease_owner, heartbeat_at, dismissed_at"
)

F = TypeVar("F", bound=Callable[..., Any])


def one_statement(fn: F) -> F:
    """Marks a store function that sends one SQL statement: it runs in autocommit (atomic by
    itself) without BEGIN and COMMIT, two round trips fewer on the hot paths."""
    fn.one_statement = True  # type: ignore[attr-defined]
    return fn


def _as_returned(value: Any) -> Any:
    return value


_READ = RowReader(_as_returned)
session_record = _READ.session_record
page_record = _READ.page_record
control_record = _READ.control_record
