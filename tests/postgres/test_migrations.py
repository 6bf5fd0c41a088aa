"""The schema: numbered migrations; an older database opens and is brought up to date, a newer or
foreign one is refused and left exactly as it was; the database enforces the state machine."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store, migrations
from tui_scraper.domain import DatabaseError, Status
from tui_scraper.domain.status import ALLOWED_TRANSITIONS

from .helpers import config, sql


def _tables(url: str) -> list[tuple[object, ...]]:
    return sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")


@pytest.fixture
def empty_url(pg_server: PgServer) -> object:
    url = pg_server.empty_database()
    yield url
    pg_server.drop(url)


async def test_a_fresh_database_gets_every_migration_once_even_opened_twice_at_once(
    empty_url: str,
) -> None:
    first, second = await asyncio.gather(Store.open(empty_url), Store.open(empty_url))
    try:
        version = sql(empty_url, f"SELECT version FROM {migrations.SCHEMA_TABLE}")
        assert version == [(migrations.LATEST_VERSION,)]
        record = await first.create_session(config(), who="t")
        assert (await second.get_session(record.id)).status is Status.PENDING
    finally:
        await first.close()
        await second.close()


async def test_an_older_database_opens_and_keeps_its_data(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await Store.open(empty_url)  # the released schema
    record = await store.create_session(config(), who="t")
    await store.close()
    # A later release adds a migration: the database written by this one is "older" then.
    added = "CREATE TABLE later_feature (id integer PRIMARY KEY);"
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, added])
    monkeypatch.setattr(migrations, "LATEST_VERSION", len(migrations.MIGRATIONS))
    upgraded = await Store.open(empty_url)
    try:
        assert (await upgraded.get_session(record.id)).target_url == record.target_url
        assert ("later_feature",) in _tables(empty_url)
        assert sql(empty_url, f"SELECT version FROM {migrations.SCHEMA_TABLE}") == [
            (migrations.LATEST_VERSION,)
        ]
    finally:
        await upgraded.close()


def _everything(url: str) -> object:
    found = {}
    for (table,) in _tables(url):
        found[table] = sql(url, f'SELECT xmin::text, t::text FROM "{table}" t ORDER BY 2')
    return found


@pytest.mark.parametrize("readonly", [False, True])
async def test_a_newer_database_is_refused_untouched(empty_url: str, readonly: bool) -> None:
    store = await Store.open(empty_url)
    await store.create_session(config(), who="t")
    await store.close()
    sql(empty_url, f"UPDATE {migrations.SCHEMA_TABLE} SET version = 99")
    before = _everything(empty_url)
    with pytest.raises(DatabaseError) as caught:
        await Store.open(empty_url, readonly=readonly)
    message = str(caught.value)
    assert "99" in message and "untouched" in message and "\n" not in message
    assert _everything(empty_url) == before


async def test_a_foreign_database_with_our_table_names_is_refused_untouched(
    empty_url: str,
) -> None:
    sql(empty_url, "CREATE TABLE sessions (id integer PRIMARY KEY, owner text)")
    sql(empty_url, "INSERT INTO sessions VALUES (1, 'someone else')")
    before = _everything(empty_url)
    with pytest.raises(DatabaseError, match="untouched"):
        await Store.open(empty_url)
    assert _everything(empty_url) == before


async def test_the_database_holds_the_state_machine_of_the_program(pg_url: str) -> None:
    legal = set(sql(pg_url, "SELECT from_status, to_status FROM session_transitions"))
    assert legal == {(a.value, b.value) for a, bs in ALLOWED_TRANSITIONS.items() for b in bs}
    store = await Store.open(pg_url)
    try:
        record = await store.create_session(config(), who="t")
        await store.transition(record.id, Status.RUNNING, reason="go", who="t")
        await store.transition(record.id, Status.COMPLETED, reason="done", who="t")
    finally:
        await store.close()
    # The function refuses (and says what the status is), writing nothing ...
    refused = sql(
        pg_url,
        "SELECT transition_session_state(%s, 'running', NULL, 'r', 'w', NULL, NULL, NULL, "
        "NULL, NULL)",
        (record.id,),
    )
    assert refused == [("completed",)]
    # ... and even a hand-written UPDATE cannot make an illegal move.
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot become running"):
        sql(pg_url, "UPDATE sessions SET status = 'running' WHERE id = %s", (record.id,))
    assert sql(pg_url, "SELECT status FROM sessions") == [("completed",)]
    kinds = sql(pg_url, "SELECT kind FROM session_events ORDER BY id")
    assert kinds == [("created",), ("transition",), ("transition",)]


async def test_last_updated_is_kept_by_the_database_and_never_goes_back(pg_url: str) -> None:
    store = await Store.open(pg_url)
    try:
        record = await store.create_session(config(), who="t")
        # Even a hand-written UPDATE cannot set it: the trigger does, and never backwards.
        sql(pg_url, "UPDATE sessions SET last_updated = 0 WHERE id = %s", (record.id,))
        after_hand = (await store.get_session(record.id)).last_updated
        assert after_hand >= record.last_updated
        await store.set_summary(record.id, {"pages": 1})
        assert (await store.get_session(record.id)).last_updated >= after_hand
    finally:
        await store.close()
