"""Regenerate fixtures/schema_v1.db: a database at schema version 1 with some data in it.

Run once with `python tests/sqlite/make_fixture_v1.py`; the .db file is committed and must keep
opening (migrating) with every later schema version. MIGRATIONS[0] never changes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui_scraper.backends.sqlite.migrations import MIGRATIONS, _statements
from tui_scraper.domain import CrawlConfig

SESSION_ID = "0123456789abcdef0123456789abcdef"
OUT = Path(__file__).with_name("fixtures") / "schema_v1.db"


def main() -> None:
    OUT.parent.mkdir(exist_ok=True)
    OUT.unlink(missing_ok=True)
    db = sqlite3.connect(OUT, isolation_level=None)
    db.execute("BEGIN")
    for statement in _statements(MIGRATIONS[0]):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    config = CrawlConfig(target_url="http://127.0.0.1:9/", max_pages=50)
    db.execute(
        "INSERT INTO sessions (id, target_url, status, config, progress, created_at, "
        "last_updated, start_time, lease_owner, heartbeat_at, pages_total) "
        "VALUES (?, ?, 'interrupted', ?, '{\"done\": 1}', 1000.0, 1100.0, 1001.0, NULL, 1100.0, 4)",
        (SESSION_ID, config.target_url, config.to_json()),
    )
    pages = [
        (1, "http://127.0.0.1:9/", 0, None, "done", 1, None, 1050.0),
        (2, "http://127.0.0.1:9/a", 1, 1, "queued", 0, None, None),
        (3, "http://127.0.0.1:9/b", 1, 1, "fetching", 0, None, None),
        (4, "http://127.0.0.1:9/c", 1, 1, "queued", 2, 2000.0, None),
    ]
    db.executemany(
        "INSERT INTO pages (id, session_id, url, depth, parent_id, status, attempts, "
        "next_attempt_at, fetched_at) VALUES (?, '" + SESSION_ID + "', ?, ?, ?, ?, ?, ?, ?)",
        pages,
    )
    events = [
        (1000.0, "created", None, None, "created", "cli:1"),
        (1001.0, "transition", "pending", "running", "start", "cli:1"),
        (1100.0, "transition", "running", "interrupted", "signal", "signal"),
    ]
    db.executemany(
        "INSERT INTO session_events (session_id, at, kind, from_status, to_status, reason, who) "
        "VALUES ('" + SESSION_ID + "', ?, ?, ?, ?, ?, ?)",
        events,
    )
    db.execute("COMMIT")
    db.execute("VACUUM")
    db.close()


if __name__ == "__main__":
    main()
