"""The read-only listing commands: sessions and show."""

from __future__ import annotations

import json
import time
from typing import Any

from ..domain.records import EventRecord, SessionRecord
from ..formatting import human_bytes, human_duration
from ..safe_text import display_safe
from .errors import EXIT_OK
from .output import emit


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _session_json(s: SessionRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": s.status.value,
        "target_url": s.target_url,
        "created_at": s.created_at,
        "start_time": s.start_time,
        "end_time": s.end_time,
        "last_updated": s.last_updated,
        "dismissed": s.dismissed_at is not None,
        "error": s.error,
        "progress": s.progress.to_dict(),
    }


def print_sessions(
    sessions: list[SessionRecord], *, as_json: bool, places: dict[str, int] | None = None
) -> int:
    """`places`: the queue's place of each queued session (shown as `queued #N`)."""
    places = places or {}
    if as_json:
        rows = [_session_json(s) for s in sessions]
        for row in rows:
            row["queue_place"] = places.get(row["id"])
        emit(json.dumps(rows, indent=2))
        return EXIT_OK
    if not sessions:
        emit("no sessions yet — start one with: tui-scraper crawl URL --headless")
        return EXIT_OK
    emit(
        f"{'ID':8}  {'STATUS':11}  {'DONE':>6}  {'FAILED':>6}  {'QUEUED':>6}  "
        f"{'STARTED':19}  {'UPDATED':19}  TARGET"
    )
    for s in sessions:
        p = s.progress
        status = f"queued #{places[s.id]}" if s.id in places else s.status.value
        emit(
            f"{s.short_id:8}  {status:11}  {p.done:>6}  {p.failed:>6}  {p.queued:>6}  "
            f"{_when(s.start_time):19}  {_when(s.last_updated):19}  "
            f"{display_safe(s.target_url, 200)}"
        )
    return EXIT_OK


def print_show(
    session: SessionRecord,
    events: list[EventRecord],
    *,
    as_json: bool,
    schedule_id: str | None = None,
) -> int:
    """`schedule_id`: the schedule this session is a run of, if any."""
    if as_json:
        record = _session_json(session)
        record["schedule_id"] = schedule_id
        record["config"] = json.loads(session.config.to_json())
        record["summary"] = session.summary
        record["events"] = [
            {
                "at": e.at,
                "kind": e.kind,
                "from": e.from_status.value if e.from_status else None,
                "to": e.to_status.value if e.to_status else None,
                "reason": e.reason,
                "who": e.who,
            }
            for e in events
        ]
        emit(json.dumps(record, indent=2))
        return EXIT_OK
    p = session.progress
    emit(f"session   {session.id}")
    emit(f"target    {display_safe(session.target_url, 300)}")
    error = f" ({display_safe(session.error, 300)})" if session.error else ""
    emit(f"status    {session.status.value}{error}")
    if schedule_id is not None:
        emit(f"schedule  {schedule_id} (a run of it)")
    emit(f"created   {_when(session.created_at)}   updated {_when(session.last_updated)}")
    emit(
        f"progress  done {p.done}, failed {p.failed}, skipped {p.skipped}, queued {p.queued}, "
        f"{human_bytes(p.bytes)}, {human_duration(p.elapsed_s)}"
    )
    emit(f"config    {session.config.to_json()}")
    if session.summary:
        emit(f"summary   {json.dumps(session.summary)}")
    emit("timeline")
    for e in events:
        change = ""
        if e.to_status is not None:
            change = f"{e.from_status.value if e.from_status else '-'} → {e.to_status.value}  "
        emit(f"  {_when(e.at)}  {change}{display_safe(e.reason, 300)}  ({e.who})")
    return EXIT_OK
