"""Mark sessions interrupted from a process that is about to exit *now*, without its event loop.

The ordinary way out of a crawl is the crawler's final checkpoint and its transition, both run
as transaction blocks on the store's aiosqlite writer and awaited on the event loop. A forced
exit (a second Ctrl-C after a human-scale gap, a stuck terminal that keeps the loop from
running) cannot wait for that, but it must still not leave its sessions `running`: this opens a
connection of its own, in the calling thread, and does the same compare-and-set the reaper
does, bounded by `timeout`. It stays plain sqlite3 (not aiosqlite) on purpose: it runs exactly
when the event loop is stuck, so nothing here may need the loop.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ...domain.errors import ScraperError
from ...domain.status import Status
from . import frontier, sessions


def interrupt_now(
    db_path: Path, session_ids: Iterable[str], *, reason: str, who: str, timeout: float = 1.0
) -> list[str]:
    """Every given session still `running` → interrupted (its fetching pages queued again).

    Returns the ids it moved. Never raises: the caller exits right after, and a session this
    could not settle (database locked past `timeout`, disk error) is still recognised as an
    orphan by the next start, because the exit releases its lock.
    """
    ids = list(session_ids)
    if not ids:
        return []
    moved: list[str] = []
    try:
        conn = sqlite3.connect(str(db_path), timeout=timeout, isolation_level=None)
    except sqlite3.Error:
        return moved
    try:
        for session_id in ids:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    sessions.transition(
                        conn,
                        session_id,
                        Status.INTERRUPTED,
                        reason=reason,
                        who=who,
                        expected=Status.RUNNING,
                    )
                    frontier.requeue_fetching(conn, session_id)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                moved.append(session_id)
            except (sqlite3.Error, ScraperError):
                # Locked past the timeout, or already settled by the crawl's own final
                # transition: nothing more to do for this one.
                continue
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
    return moved
