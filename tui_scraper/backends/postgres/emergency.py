"""Mark sessions interrupted from a process that is about to exit *now*, without its event loop.

The PostgreSQL twin of backends/sqlite/emergency.py (see there for when it runs): a synchronous
connection of its own, in the calling thread, the reaper's compare-and-set for each session,
and every step bounded by `timeout` (connecting included), so a server that is out of reach
cannot hold the exit up. A session this could not settle is still found by the next start: its
owner's lease lock goes with the exiting process's connections.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from ...domain.errors import ScraperError


def interrupt_now(
    url: str, session_ids: Iterable[str], *, reason: str, who: str, timeout: float = 1.0
) -> list[str]:
    """Every given session still `running` → interrupted (its fetching pages queued again).
    Returns the ids it moved. Never raises."""
    ids = list(session_ids)
    if not ids:
        return []
    deadline = time.monotonic() + timeout
    moved: list[str] = []
    try:
        import psycopg

        from .connect import connect_sync
    except ImportError:
        return moved
    conn: Any = None
    try:
        conn = connect_sync(url, timeout=timeout)
        for session_id in ids:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                break
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL statement_timeout = {left_ms}")
                    conn.execute(f"SET LOCAL lock_timeout = {left_ms}")
                    row = conn.execute(
                        "SELECT transition_session_state(%s, 'interrupted', 'running', %s, %s, "
                        "NULL, NULL, NULL, NULL, NULL)",
                        (session_id, reason, who),
                    ).fetchone()
                    if row is None or row[0] is not None:
                        continue  # already settled by the crawl's own transition, or missing
                    conn.execute(
                        "UPDATE pages SET status = 'queued', lease_owner = NULL, "
                        "lease_until = NULL WHERE session_id = %s AND status = 'fetching'",
                        (session_id,),
                    )
                moved.append(session_id)
            except psycopg.Error:
                continue
    except (ScraperError, psycopg.Error, OSError):
        return moved
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
    return moved
