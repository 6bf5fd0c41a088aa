"""Rows → records in SQLite: JSON columns are text, decoded here (backends/records.py holds the
column lists and converters both backends share)."""

from __future__ import annotations

import json
from typing import Any

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
    "loads",
    "page_record",
    "session_record",
]

SESSION_COLUMNS = (
    "id, target_url, status, config, progress, summary_results, error, created_at, start_time, "
    "end_time, last_updated, lease_owner, heartbeat_at, dismissed_at"
)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


_READ = RowReader(loads)
session_record = _READ.session_record
page_record = _READ.page_record
control_record = _READ.control_record
