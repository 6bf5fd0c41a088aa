"""Row converters of the queue and schedule tables, shared by both backends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from ..domain.config import CrawlConfig
from ..domain.schedules import MissedPolicy, QueueEntry, RunOutcome, ScheduleRecord, ScheduleRun

QUEUE_COLUMNS = "session_id, position, queued_at, started_at"
SCHEDULE_COLUMNS = (
    "id, config, every_s, cron, tz, missed, paused, next_run_at, created_at, last_run_at, "
    "last_session_id, last_outcome, last_detail"
)
RUN_COLUMNS = "id, schedule_id, at, outcome, session_id, detail"


def queue_entries(rows: Sequence[Sequence[Any]]) -> list[QueueEntry]:
    """Rows in position order → entries, each waiting one with its place (1 = next)."""
    entries: list[QueueEntry] = []
    place = 0
    for session_id, position, queued_at, started_at in rows:
        if started_at is None:
            place += 1
        entries.append(
            QueueEntry(
                session_id=str(session_id),
                position=int(position),
                queued_at=float(queued_at),
                started_at=None if started_at is None else float(started_at),
                place=place if started_at is None else 0,
            )
        )
    return entries


def schedule_record(row: Sequence[Any]) -> ScheduleRecord:
    config = row[1] if isinstance(row[1], str) else json.dumps(row[1])
    return ScheduleRecord(
        id=str(row[0]),
        config=CrawlConfig.from_json(config),
        every_s=None if row[2] is None else float(row[2]),
        cron=row[3],
        tz=str(row[4]),
        missed=cast(MissedPolicy, row[5]),
        paused=bool(row[6]),
        next_run_at=float(row[7]),
        created_at=float(row[8]),
        last_run_at=None if row[9] is None else float(row[9]),
        last_session_id=row[10],
        last_outcome=cast("RunOutcome | None", row[11]),
        last_detail=row[12],
    )


def schedule_run(row: Sequence[Any]) -> ScheduleRun:
    return ScheduleRun(
        id=int(row[0]),
        schedule_id=str(row[1]),
        at=float(row[2]),
        outcome=cast(RunOutcome, row[3]),
        session_id=row[4],
        detail=str(row[5] or ""),
    )
