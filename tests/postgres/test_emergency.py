"""The last-gasp interrupt (exit_guard.hard_exit) on PostgreSQL."""

from __future__ import annotations

from tui_scraper.backends.postgres import Store
from tui_scraper.backends.postgres.emergency import interrupt_now
from tui_scraper.domain import PageStatus, Status

from .helpers import config, owner


async def test_interrupt_now_settles_running_sessions_and_requeues_their_claims(
    pg_url: str,
) -> None:
    store = await Store.open(pg_url)
    try:
        running = await store.create_session(config(), who="t")
        await store.acquire_run(running.id, owner(), who="t", reason="go")
        [claimed] = await store.claim_batch(running.id, 1, now=0)
        paused = await store.create_session(config(), who="t")
        await store.transition(paused.id, Status.RUNNING, reason="go", who="t")
        await store.transition(paused.id, Status.PAUSED, reason="p", who="t")
        moved = interrupt_now(
            pg_url, [running.id, paused.id, "f" * 32], reason="forced exit", who="exit", timeout=5
        )
        assert moved == [running.id]
        assert (await store.get_session(running.id)).status is Status.INTERRUPTED
        assert (await store.get_session(paused.id)).status is Status.PAUSED
        assert await store.page_status(running.id, claimed.url) is PageStatus.QUEUED
        last = (await store.events(running.id))[-1]
        assert (last.reason, last.who) == ("forced exit", "exit")
    finally:
        await store.close()
