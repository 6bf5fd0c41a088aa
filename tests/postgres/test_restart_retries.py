"""After the server restarted, the writes a crawl makes all the time are waited out and tried
again (they are safe to repeat): a claim, a compare-and-set transition, a control record marked
applied; and the lease locks the cut connections held are taken again by the first call that
gets through, so the session does not look dead to the other workers until the next renewal.
What is not safe to repeat still fails at once (creating a session)."""

from __future__ import annotations

import asyncio

import pytest

from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import Status
from tui_scraper.domain.errors import StorageUnavailable

from .helpers import config, owner, sql


async def _running(pg_url: str) -> tuple[Store, str]:
    store = await Store.open(pg_url)
    record = await store.create_session(config(), who="t")
    await store.acquire_run(record.id, owner(), who="t", reason="go")
    return store, record.id


async def test_a_claim_after_a_restart_waits_for_the_server(
    pg_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim itself meets the cut connection (not the look for lapsed claims before it).
    monkeypatch.setattr("tui_scraper.backends.postgres.store._LAPSED_EVERY_S", 3600.0)
    store, session_id = await _running(pg_url)
    told: list[str] = []
    store.add_wait_listener(told.append)
    try:
        assert await store.claim_batch(session_id, 0, now=0) == []
        await asyncio.to_thread(pg_server.restart)
        [seed] = await store.claim_batch(session_id, 5, now=0)
        assert seed.depth == 0
        assert told and told[-1] == ""
    finally:
        await store.close()


async def test_the_lease_locks_are_taken_again_by_the_first_call_through(
    pg_server: PgServer, pg_url: str
) -> None:
    store, session_id = await _running(pg_url)
    store.lease_seconds = 600.0  # no renewal comes to the rescue during the test
    try:
        await asyncio.to_thread(pg_server.restart)
        await store.page_counts(session_id)  # any call that had to wait for the server
        [(alive,)] = sql(pg_url, "SELECT session_owner_alive(%s)", (session_id,))
        assert alive is True
    finally:
        await store.close()


async def test_a_compare_and_set_transition_and_a_control_mark_wait_for_the_server(
    pg_server: PgServer, pg_url: str
) -> None:
    store, session_id = await _running(pg_url)
    try:
        record = await store.post_control(session_id, "pause", who="t")
        await asyncio.to_thread(pg_server.restart)
        assert await store.mark_control_applied(record.id, outcome="pausing") is True
        await asyncio.to_thread(pg_server.restart)
        moved = await store.transition(
            session_id, Status.PAUSED, reason="paused", who="t", expected=Status.RUNNING
        )
        assert moved.status is Status.PAUSED
    finally:
        await store.close()


async def test_creating_a_session_is_not_repeated_after_a_restart(
    pg_server: PgServer, pg_url: str
) -> None:
    store = await Store.open(pg_url)
    try:
        await asyncio.to_thread(pg_server.restart)
        with pytest.raises(StorageUnavailable):
            await store.create_session(config(), who="t")
        assert await store.create_session(config(), who="t") is not None
    finally:
        await store.close()
