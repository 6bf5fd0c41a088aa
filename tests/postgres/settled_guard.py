"""A test-only trigger that records every write over a page row already settled (done, failed,
skipped) with a new result: what a worker woken past its claims must never do to the results of
the worker that took them over. Removed again when the test ends (the database is reused)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .helpers import sql

_CREATE = (
    "CREATE TABLE test_overwrites (page_id bigint, old_status text, new_status text)",
    """
CREATE FUNCTION test_record_overwrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_overwrites VALUES (OLD.id, OLD.status, NEW.status);
    RETURN NEW;
END $$""",
    """
CREATE TRIGGER test_overwrites BEFORE UPDATE ON pages FOR EACH ROW
    WHEN (OLD.status IN ('done', 'failed', 'skipped')
          AND NEW.fetched_at IS DISTINCT FROM OLD.fetched_at)
    EXECUTE FUNCTION test_record_overwrite()""",
)
_DROP = (
    "DROP TRIGGER IF EXISTS test_overwrites ON pages",
    "DROP FUNCTION IF EXISTS test_record_overwrite()",
    "DROP TABLE IF EXISTS test_overwrites",
)


@contextmanager
def settled_rows_guarded(pg_url: str) -> Iterator[None]:
    for statement in _CREATE:
        sql(pg_url, statement)
    try:
        yield
    finally:
        for statement in _DROP:
            sql(pg_url, statement)


def overwrites(pg_url: str) -> list[tuple[object, ...]]:
    return sql(pg_url, "SELECT page_id, old_status, new_status FROM test_overwrites")
