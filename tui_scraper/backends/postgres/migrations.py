"""The PostgreSQL schema as numbered migrations, recorded in `tui_scraper_schema`.

MIGRATIONS[i] takes a database from version i to version i + 1, each in its own transaction
under a transaction-scoped advisory lock (two processes opening a new database at once migrate
it once). Never edit a released entry: add a new one. A database whose recorded version is newer
than LATEST_VERSION, or that holds tables of ours without the version record, is refused before
anything is written to it.

Times are seconds since the epoch (double precision), as everywhere else in the program, so the
records read back the same from either backend.
"""

from __future__ import annotations

from typing import Any

from ...domain.errors import DatabaseError

SCHEMA_TABLE = "tui_scraper_schema"
# Any fixed key: it only has to be the same in every process that migrates.
_MIGRATION_LOCK = 7_301_221_415
_NOW = "extract(epoch from clock_timestamp())::double precision"

_V1 = f"""
CREATE TABLE sessions (
    id              text PRIMARY KEY,
    target_url      text NOT NULL,
    status          text NOT NULL CHECK (status IN
                        ('pending','running','paused','completed','failed','interrupted')),
    config          jsonb NOT NULL,
    progress        jsonb NOT NULL DEFAULT '{{}}',
    summary_results jsonb,
    error           text,
    created_at      double precision NOT NULL,
    start_time      double precision,
    end_time        double precision,
    last_updated    double precision NOT NULL,
    lease_owner     text,
    heartbeat_at    double precision,
    dismissed_at    double precision,
    -- The run lease: the owner's token, until when it holds without renewing, and the key of the
    -- advisory lock its connection holds (gone with the connection: a killed owner is provably
    -- dead at once; a stopped one loses the lease when lease_until passes).
    lease_token     text,
    lease_until     double precision,
    lease_key       bigint,
    pages_total     bigint NOT NULL DEFAULT 0 CHECK (pages_total >= 0)
);
CREATE INDEX sessions_status ON sessions (status);
CREATE INDEX sessions_config ON sessions USING gin (config jsonb_path_ops);
CREATE INDEX sessions_progress ON sessions USING gin (progress jsonb_path_ops);

-- The legal transitions of the state machine, enforced here as well as in the program.
CREATE TABLE session_transitions (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO session_transitions VALUES
    ('pending', 'running'), ('pending', 'failed'),
    ('running', 'paused'), ('running', 'completed'), ('running', 'failed'),
    ('running', 'interrupted'),
    ('paused', 'running'), ('paused', 'failed'),
    ('interrupted', 'running'), ('interrupted', 'failed');

CREATE FUNCTION sessions_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_updated := greatest({_NOW}, OLD.last_updated);
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
        SELECT 1 FROM session_transitions
        WHERE from_status = OLD.status AND to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'session % is %; it cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sessions_last_updated BEFORE UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_touch();

CREATE TABLE pages (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id            text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    url                   text NOT NULL,
    depth                 integer NOT NULL CHECK (depth >= 0),
    parent_id             bigint,
    status                text NOT NULL DEFAULT 'queued'
                          CHECK (status IN ('queued','fetching','done','failed','skipped')),
    attempts              integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at       double precision,
    http_status           integer,
    content_type          text,
    encoding              text,
    content_hash          text,
    raw_html_storage_path text,
    title                 text,
    extracted_data        jsonb,
    error_details         jsonb,
    fetched_at            double precision,
    elapsed_ms            double precision,
    bytes                 bigint,
    final_url             text,
    -- A claimed row: who claimed it and until when (a worker that outlives this lost it).
    lease_owner           text,
    lease_until           double precision,
    UNIQUE (session_id, url)
);
CREATE INDEX pages_frontier ON pages (session_id, status, depth, id) INCLUDE (next_attempt_at);
CREATE INDEX pages_retry ON pages (session_id, next_attempt_at)
    WHERE status = 'queued' AND next_attempt_at IS NOT NULL;
CREATE INDEX pages_recent ON pages (session_id, fetched_at) WHERE fetched_at IS NOT NULL;
CREATE INDEX pages_claimed ON pages (session_id, lease_until) WHERE status = 'fetching';

-- Stored content, named by the sha256 of the original bytes; `codec` says how `data` holds them.
CREATE TABLE downloaded_content (
    sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{{64}}$'),
    codec      text NOT NULL CHECK (codec IN ('raw', 'zstd')),
    size       bigint NOT NULL CHECK (size >= 0),
    data       bytea NOT NULL,
    created_at double precision NOT NULL
);

-- What a checkpoint records of a download (the content itself is in downloaded_content).
CREATE TABLE downloads (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    page_id      bigint REFERENCES pages(id) ON DELETE CASCADE,
    url          text NOT NULL,
    storage_path text NOT NULL,
    mime_type    text,
    size         bigint NOT NULL CHECK (size >= 0),
    sha256       text NOT NULL,
    created_at   double precision NOT NULL,
    UNIQUE (session_id, url)
);

CREATE TABLE session_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    at          double precision NOT NULL,
    kind        text NOT NULL,
    from_status text,
    to_status   text,
    reason      text NOT NULL,
    who         text NOT NULL
);
CREATE INDEX session_events_session ON session_events (session_id, id);

CREATE TABLE session_control (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    command      text NOT NULL CHECK (command IN ('pause','resume','cancel','interrupt','set')),
    args         jsonb NOT NULL DEFAULT '{{}}',
    who          text NOT NULL,
    requested_at double precision NOT NULL,
    applied_at   double precision,
    outcome      text,
    CHECK ((applied_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX session_control_pending ON session_control (session_id, id) WHERE applied_at IS NULL;

-- Politeness shared by every worker of a crawl: when a host may be asked next.
CREATE TABLE hosts (
    session_id      text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    host            text NOT NULL,
    next_allowed_at double precision NOT NULL DEFAULT 0,
    tokens          double precision NOT NULL DEFAULT 0,
    in_flight       integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    PRIMARY KEY (session_id, host)
);

-- Whether the advisory lock with this key is held by a live connection of this database.
CREATE FUNCTION lease_lock_held(p_key bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_key IS NOT NULL AND EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::bigint * 4294967296 + objid::bigint = p_key
    )
$$;

-- A running session's owner is alive while its connection holds the lease lock and its lease
-- has not run out.
CREATE FUNCTION session_owner_alive(p_id text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT lease_until > {_NOW} AND lease_lock_held(lease_key)
        FROM sessions WHERE id = p_id
    ), false)
$$;

-- The compare-and-set of a session's status and its event, in one call. Returns NULL when it
-- happened, else the status that refused it ('missing' for no such session).
CREATE FUNCTION transition_session_state(
    p_id text, p_wanted text, p_expected text, p_reason text, p_who text, p_error text,
    p_lease_owner text, p_lease_token text, p_lease_key bigint, p_lease_until double precision,
    p_kind text DEFAULT 'transition'
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_current text;
    v_now double precision := {_NOW};
BEGIN
    SELECT status INTO v_current FROM sessions WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'missing';
    END IF;
    IF (p_expected IS NOT NULL AND v_current <> p_expected) OR NOT EXISTS (
        SELECT 1 FROM session_transitions WHERE from_status = v_current AND to_status = p_wanted
    ) THEN
        RETURN v_current;
    END IF;
    UPDATE sessions SET
        status = p_wanted,
        start_time = CASE WHEN p_wanted = 'running' THEN coalesce(start_time, v_now)
                          ELSE start_time END,
        dismissed_at = CASE WHEN p_wanted = 'running' THEN NULL ELSE dismissed_at END,
        lease_owner = CASE WHEN p_wanted = 'running' THEN p_lease_owner ELSE NULL END,
        lease_token = CASE WHEN p_wanted = 'running' THEN p_lease_token ELSE NULL END,
        lease_key = CASE WHEN p_wanted = 'running' THEN p_lease_key ELSE NULL END,
        lease_until = CASE WHEN p_wanted = 'running' THEN p_lease_until ELSE NULL END,
        heartbeat_at = CASE WHEN p_wanted = 'running' THEN v_now ELSE heartbeat_at END,
        end_time = CASE WHEN p_wanted IN ('completed', 'failed') THEN v_now ELSE end_time END,
        error = coalesce(p_error, error)
    WHERE id = p_id;
    INSERT INTO session_events (session_id, at, kind, from_status, to_status, reason, who)
    VALUES (p_id, v_now, p_kind, v_current, p_wanted, p_reason, p_who);
    RETURN NULL;
END $$;

-- A batch commit's session figures: pages added, the progress, the heartbeat (and the lease
-- renewed by it when the caller holds it). Returns false when there is no such session.
CREATE FUNCTION checkpoint_session_progress(
    p_id text, p_added bigint, p_progress jsonb, p_heartbeat double precision,
    p_lease_token text, p_lease_until double precision
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions SET
        pages_total = pages_total + p_added,
        progress = p_progress,
        heartbeat_at = p_heartbeat,
        lease_until = CASE WHEN p_lease_token IS NOT NULL AND lease_token = p_lease_token
                           THEN greatest(lease_until, p_lease_until) ELSE lease_until END
    WHERE id = p_id;
    RETURN FOUND;
END $$;
"""

# Several workers on one session: each registers here (its claims' lease_owner is its
# worker_id) and renews its row as it renews its claims. Alive = its advisory lock held and its
# lease not run out, as for the run lease; a session is alive while its owner or any registered
# worker is, so the reaper leaves it to them.
_V2 = f"""
CREATE TABLE session_workers (
    session_id  text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    worker_id   text NOT NULL,
    owner       text NOT NULL,
    lock_key    bigint NOT NULL,
    lease_until double precision NOT NULL,
    joined_at   double precision NOT NULL,
    PRIMARY KEY (session_id, worker_id)
);

CREATE FUNCTION session_worker_alive(p_session text, p_worker text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT lease_until > {_NOW} AND lease_lock_held(lock_key)
        FROM session_workers WHERE session_id = p_session AND worker_id = p_worker
    ), false)
$$;

CREATE OR REPLACE FUNCTION session_owner_alive(p_id text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT lease_until > {_NOW} AND lease_lock_held(lease_key)
        FROM sessions WHERE id = p_id
    ), false) OR EXISTS (
        SELECT 1 FROM session_workers
        WHERE session_id = p_id AND lease_until > {_NOW} AND lease_lock_held(lock_key)
    )
$$;
"""

_HTTP_HEADS = """
-- What a WARC export needs of each exchange beyond the stored body: the request line and
-- headers sent (credentials left out) and the status line and headers as received.
ALTER TABLE pages ADD COLUMN request_head bytea, ADD COLUMN response_head bytea;
"""

_PAGE_VALIDATORS = """
-- A page's HTTP validators as the server sent them, so that a recrawl of the session can ask
-- "changed since?" (If-None-Match / If-Modified-Since) instead of fetching every page again.
ALTER TABLE pages ADD COLUMN etag text, ADD COLUMN last_modified text;
"""

# Session analytics (domain/analytics.py): counters per interval of crawl time, and for the
# whole session (bucket -1), added to by each checkpoint in its own transaction.
_SESSION_ANALYTICS = """
CREATE TABLE session_analytics (
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    bucket     bigint NOT NULL,
    metric     text NOT NULL,
    key        text NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (session_id, bucket, metric, key)
);
"""

_QUEUE_AND_SCHEDULES = """
-- The service's queue: sessions waiting to be started, in `position` order. `started_at` is set
-- (compare-and-set) by the service when it starts one; the row stays until the session leaves
-- `running`, so a service started again after a kill knows what it had started.
CREATE TABLE session_queue (
    session_id text PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    position   bigint NOT NULL,
    queued_at  double precision NOT NULL,
    started_at double precision
);
CREATE INDEX session_queue_position ON session_queue (position);

-- Recurring crawls. A removed schedule keeps its row (removed_at) so its runs stay linked.
CREATE TABLE schedules (
    id              text PRIMARY KEY,
    config          jsonb NOT NULL,
    every_s         double precision CHECK (every_s IS NULL OR every_s > 0),
    cron            text,
    tz              text NOT NULL DEFAULT 'UTC',
    missed          text NOT NULL DEFAULT 'run-once' CHECK (missed IN ('run-once','skip')),
    paused          boolean NOT NULL DEFAULT false,
    next_run_at     double precision NOT NULL,
    created_at      double precision NOT NULL,
    removed_at      double precision,
    last_run_at     double precision,
    last_session_id text,
    last_outcome    text,
    last_detail     text,
    CHECK ((every_s IS NULL) <> (cron IS NULL))
);

CREATE TABLE schedule_runs (
    id          bigserial PRIMARY KEY,
    schedule_id text NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    session_id  text REFERENCES sessions (id) ON DELETE SET NULL,
    at          double precision NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('started','skipped','missed')),
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX schedule_runs_schedule ON schedule_runs (schedule_id, id);
CREATE INDEX schedule_runs_session ON schedule_runs (session_id) WHERE session_id IS NOT NULL;
"""

# Politeness shared by every worker of a session (backends/postgres/hosts.py): one row per start
# on a host that is in flight, named by a slot id the worker chose (so a reservation or release
# tried again after a lost connection counts once) and by the worker holding it (so the slots of
# a worker that died are found and dropped). `hosts.in_flight` is their count, kept by the same
# statements that add and remove them; the hosts row is what serialises a host's reservations.
# `wanted_by` names a worker refused for want of a slot, until `wanted_until`: the next slot
# freed is its (so one worker cannot keep a busy host to itself), and `last_slot` says which
# reservation the row last admitted (what the statement's RETURNING tells the caller).
_HOST_SLOTS = """
ALTER TABLE hosts
    ADD COLUMN wanted_by    text,
    ADD COLUMN wanted_until double precision NOT NULL DEFAULT 0,
    ADD COLUMN last_slot    text;

CREATE TABLE host_slots (
    slot_id    text PRIMARY KEY,
    session_id text NOT NULL,
    host       text NOT NULL,
    worker_id  text NOT NULL,
    start_at   double precision NOT NULL,
    FOREIGN KEY (session_id, host) REFERENCES hosts (session_id, host) ON DELETE CASCADE
);
CREATE INDEX host_slots_holder ON host_slots (session_id, host, worker_id);
"""

# pg_locks shows a bigint advisory key as two unsigned 32-bit halves. Multiplying the high half
# overflowed bigint (an error, not a false) whenever anyone held a key with the top bit set, such
# as the negative hashtext() key a control post takes: a shift and an or put the halves back
# together for every key, whatever its sign.
_LOCK_KEY_ANY_SIGN = """
CREATE OR REPLACE FUNCTION lease_lock_held(p_key bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_key IS NOT NULL AND EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((classid::bigint << 32) | objid::bigint) = p_key
    )
$$;
"""

MIGRATIONS: list[str] = [
    _V1,
    _V2,
    _HTTP_HEADS,
    _PAGE_VALIDATORS,
    _SESSION_ANALYTICS,
    _QUEUE_AND_SCHEDULES,
    _HOST_SLOTS,
    _LOCK_KEY_ANY_SIGN,
]
LATEST_VERSION = len(MIGRATIONS)

_CREATE_SCHEMA_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (id boolean PRIMARY KEY DEFAULT true CHECK (id), "
    "version integer NOT NULL CHECK (version >= 0))"
)
_OUR_TABLES = ("sessions", "pages", "session_events", "downloaded_content", "session_control")


def refused(where: str, why: str) -> DatabaseError:
    return DatabaseError(
        f"{where} is not a usable tui-scraper database ({why}); it was left untouched"
    )


def check_version(version: int | None, has_our_tables: bool, where: str) -> None:
    """Refuse what we must not touch: a newer schema, or our tables without the version record."""
    if version is None:
        if has_our_tables:
            raise refused(where, "its tables carry no schema version")
        return
    if version > LATEST_VERSION:
        raise refused(
            where,
            f"schema version {version} is newer than this program's {LATEST_VERSION}: "
            "upgrade tui-scraper",
        )


PROBE_SQL = (
    "SELECT (to_regclass('" + SCHEMA_TABLE + "') IS NOT NULL), "
    "(SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY(%s))"
)


def _probe(cursor: Any) -> tuple[int | None, bool]:
    cursor.execute(PROBE_SQL, (list(_OUR_TABLES),))
    has_table, ours = cursor.fetchone()
    version: int | None = None
    if has_table:
        cursor.execute(f"SELECT version FROM {SCHEMA_TABLE}")
        row = cursor.fetchone()
        if row is None:
            return None, True  # the record is gone: treated as corrupt, never re-migrated
        version = int(row[0])
    return version, bool(ours)


def migrate_sync(conn: Any, where: str = "the database") -> int:
    """Apply every missing migration on a synchronous autocommit psycopg connection."""
    while True:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            version, ours = _probe(cursor)
            check_version(version, ours, where)
            current = version or 0
            if current >= LATEST_VERSION:
                return current
            if version is None:
                cursor.execute(_CREATE_SCHEMA_TABLE)
                cursor.execute(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (0)")
            cursor.execute(MIGRATIONS[current])
            cursor.execute(f"UPDATE {SCHEMA_TABLE} SET version = %s", (current + 1,))


async def migrate_async(conn: Any, where: str) -> int:
    """The same on an asynchronous autocommit connection."""
    while True:
        async with conn.transaction(), conn.cursor() as cursor:
            await cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await cursor.execute(PROBE_SQL, (list(_OUR_TABLES),))
            has_table, ours = await cursor.fetchone()
            version: int | None = None
            if has_table:
                await cursor.execute(f"SELECT version FROM {SCHEMA_TABLE}")
                row = await cursor.fetchone()
                if row is None:
                    raise refused(where, "its schema version record is missing")
                version = int(row[0])
            check_version(version, bool(ours), where)
            current = version or 0
            if current >= LATEST_VERSION:
                return current
            if version is None:
                await cursor.execute(_CREATE_SCHEMA_TABLE)
                await cursor.execute(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (0)")
            await cursor.execute(MIGRATIONS[current])
            await cursor.execute(f"UPDATE {SCHEMA_TABLE} SET version = %s", (current + 1,))


async def read_version(conn: Any, where: str) -> int | None:
    """The recorded version (None: no schema yet), refusing what check_version refuses; writes
    nothing (the read-only store's check)."""
    async with conn.cursor() as cursor:
        await cursor.execute(PROBE_SQL, (list(_OUR_TABLES),))
        has_table, ours = await cursor.fetchone()
        version: int | None = None
        if has_table:
            await cursor.execute(f"SELECT version FROM {SCHEMA_TABLE}")
            row = await cursor.fetchone()
            if row is None:
                raise refused(where, "its schema version record is missing")
            version = int(row[0])
        check_version(version, bool(ours), where)
        return version
