"""The schema as numbered migrations, keyed on `PRAGMA user_version`.

MIGRATIONS[i] takes a database from version i to version i + 1. Never edit a released entry:
add a new one, and keep tests/sqlite/fixtures/schema_v1.db migrating to the latest version.
"""

from __future__ import annotations

import sqlite3

_SESSION_STATES = "'pending','running','paused','completed','failed','interrupted'"
_PAGE_STATES = "'queued','fetching','done','failed','skipped'"
# julianday has millisecond resolution; unixepoch('subsec') needs SQLite 3.42, Debian 12 has 3.40.
_NOW_SQL = "((julianday('now') - 2440587.5) * 86400.0)"

_V1 = f"""
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    target_url      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ({_SESSION_STATES})),
    config          TEXT NOT NULL,                 -- CrawlConfig JSON
    progress        TEXT NOT NULL DEFAULT '{{}}',  -- Progress JSON
    summary_results TEXT,                          -- JSON
    error           TEXT,
    created_at      REAL NOT NULL,
    start_time      REAL,
    end_time        REAL,
    last_updated    REAL NOT NULL,
    lease_owner     TEXT,
    heartbeat_at    REAL,
    dismissed_at    REAL,
    -- every page row of the session; kept in the same transactions that insert pages, so that
    -- max_pages is checked without counting a million rows.
    pages_total     INTEGER NOT NULL DEFAULT 0 CHECK (pages_total >= 0)
);
CREATE INDEX sessions_status ON sessions(status);

CREATE TRIGGER sessions_last_updated AFTER UPDATE ON sessions FOR EACH ROW
BEGIN
    UPDATE sessions SET last_updated = max({_NOW_SQL}, OLD.last_updated) WHERE id = NEW.id;
END;

CREATE TABLE pages (
    id                    INTEGER PRIMARY KEY,
    session_id            TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    depth                 INTEGER NOT NULL CHECK (depth >= 0),
    -- no FK: ON DELETE on a self-reference would need another index and costs every insert.
    parent_id             INTEGER,
    status                TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ({_PAGE_STATES})),
    attempts              INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at       REAL,
    http_status           INTEGER,
    content_type          TEXT,
    encoding              TEXT,
    content_hash          TEXT,
    raw_html_storage_path TEXT,
    title                 TEXT,
    extracted_data        TEXT,  -- JSON
    error_details         TEXT,  -- JSON
    fetched_at            REAL,
    elapsed_ms            REAL,
    bytes                 INTEGER,
    final_url             TEXT,
    UNIQUE (session_id, url)
);
-- The frontier: claiming is a range of this index in (depth, id) order; next_attempt_at is
-- carried so that the "due" filter needs no table lookup.
CREATE INDEX pages_frontier ON pages(session_id, status, depth, id, next_attempt_at);

CREATE TABLE downloaded_content (
    id           INTEGER PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    page_id      INTEGER REFERENCES pages(id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    storage_path TEXT NOT NULL,
    mime_type    TEXT,
    size         INTEGER NOT NULL CHECK (size >= 0),
    sha256       TEXT NOT NULL,
    created_at   REAL NOT NULL,
    UNIQUE (session_id, url)  -- a replayed checkpoint inserts nothing twice
);
CREATE INDEX downloaded_content_page ON downloaded_content(page_id);

CREATE TABLE session_events (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    at          REAL NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT CHECK (from_status IS NULL OR from_status IN ({_SESSION_STATES})),
    to_status   TEXT CHECK (to_status IS NULL OR to_status IN ({_SESSION_STATES})),
    reason      TEXT NOT NULL,
    who         TEXT NOT NULL
);
CREATE INDEX session_events_session ON session_events(session_id, id);
"""

_V2 = """
-- next_due_time: the earliest retry is the first entry of this small partial index.
CREATE INDEX pages_retry ON pages(session_id, next_attempt_at)
    WHERE status = 'queued' AND next_attempt_at IS NOT NULL;
-- recent_pages: newest fetched first; queued rows (fetched_at NULL) cost this index nothing.
CREATE INDEX pages_recent ON pages(session_id, fetched_at) WHERE fetched_at IS NOT NULL;
"""

_V3 = """
-- Commands to a session, recorded so that one reaches a worker in another process: a client
-- posts, the worker lists the pending ones after the last id it handled and marks each applied.
-- AUTOINCREMENT: an id is never reused, so "after the last id" never skips a new command.
CREATE TABLE session_control (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    command      TEXT NOT NULL CHECK (command IN ('pause','resume','cancel','interrupt','set')),
    args         TEXT NOT NULL DEFAULT '{}',  -- JSON object
    who          TEXT NOT NULL,
    requested_at REAL NOT NULL,
    applied_at   REAL,
    outcome      TEXT,
    CHECK ((applied_at IS NULL) = (outcome IS NULL))
);
-- A worker's poll: its session's pending commands in id order, none of the applied history.
CREATE INDEX session_control_pending ON session_control(session_id, id) WHERE applied_at IS NULL;
"""

_HTTP_HEADS = """
-- What a WARC export needs of each exchange beyond the stored body: the request line and
-- headers sent (credentials left out) and the status line and headers as received.
ALTER TABLE pages ADD COLUMN request_head BLOB;
ALTER TABLE pages ADD COLUMN response_head BLOB;
"""

_PAGE_VALIDATORS = """
-- A page's HTTP validators as the server sent them, so that a recrawl of the session can ask
-- "changed since?" (If-None-Match / If-Modified-Since) instead of fetching every page again.
ALTER TABLE pages ADD COLUMN etag TEXT;
ALTER TABLE pages ADD COLUMN last_modified TEXT;
"""

# Session analytics (domain/analytics.py): counters per interval of crawl time, and for the
# whole session (bucket -1), added to by each checkpoint in its own transaction.
_SESSION_ANALYTICS = """
CREATE TABLE session_analytics (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    bucket     INTEGER NOT NULL,
    metric     TEXT NOT NULL,
    key        TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (session_id, bucket, metric, key)
) WITHOUT ROWID;
"""

_QUEUE_AND_SCHEDULES = """
-- The service's queue: sessions waiting to be started, in `position` order. `started_at` is set
-- (compare-and-set) by the service when it starts one; the row stays until the session leaves
-- `running`, so a service started again after a kill knows what it had started.
CREATE TABLE session_queue (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    queued_at  REAL NOT NULL,
    started_at REAL
);
CREATE INDEX session_queue_position ON session_queue(position);

-- Recurring crawls. A removed schedule keeps its row (removed_at) so its runs stay linked.
CREATE TABLE schedules (
    id              TEXT PRIMARY KEY,
    config          TEXT NOT NULL,               -- CrawlConfig JSON of every run
    every_s         REAL CHECK (every_s IS NULL OR every_s > 0),
    cron            TEXT,
    tz              TEXT NOT NULL DEFAULT 'UTC',
    missed          TEXT NOT NULL DEFAULT 'run-once' CHECK (missed IN ('run-once','skip')),
    paused          INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    next_run_at     REAL NOT NULL,
    created_at      REAL NOT NULL,
    removed_at      REAL,
    last_run_at     REAL,
    last_session_id TEXT,
    last_outcome    TEXT,
    last_detail     TEXT,
    CHECK ((every_s IS NULL) <> (cron IS NULL))
);

-- Every time a schedule came due: the session it started, or why it started none.
CREATE TABLE schedule_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    session_id  TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    at          REAL NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('started','skipped','missed')),
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX schedule_runs_schedule ON schedule_runs(schedule_id, id);
CREATE INDEX schedule_runs_session ON schedule_runs(session_id) WHERE session_id IS NOT NULL;
"""

MIGRATIONS: list[str] = [
    _V1,
    _V2,
    _V3,
    _HTTP_HEADS,
    _PAGE_VALIDATORS,
    _SESSION_ANALYTICS,
    _QUEUE_AND_SCHEDULES,
]
LATEST_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every missing migration, each in its own BEGIN IMMEDIATE transaction.

    Returns the resulting version. The caller has already refused newer databases.
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = user_version(conn)
            if version >= LATEST_VERSION:
                conn.execute("COMMIT")
                return version
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would COMMIT our transaction first)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
