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


def print_sessions(sessions: list[SessionRecord], *, as_json: bool) -> int:
    if as_json:
        emit(json.dumps([_session_json(s) for s in sessions], indent=2))
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
        emit(
            f"{s.short_id:8}  {s.status.value:11}  {p.done:>6}  {p.failed:>6}  {p.queued:>6}  "
            f"{_when(s.start_time):19}  {_when(s.last_updated):19}  "
            f"{display_safe(s.target_url, 200)}"
        )
    return EXIT_OK


def print_show(session: SessionRecord, events: list[EventRecord], *, as_json: bool) -> int:
    if as_json:
        record = _session_json(session)
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
