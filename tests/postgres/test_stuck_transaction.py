"""A worker stopped in the middle of a checkpoint (SIGSTOP, a paused VM) holds the session row's
lock: the server ends its transaction once it has been idle for a lease, so the other workers'
checkpoints go through instead of waiting a minute and failing."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from tui_scraper.backends.postgres import Store
from tui_scraper.backends.postgres.connect import connect_kwargs
from tui_scraper.domain import PageResult, PageStatus, Progress

from .helpers import config, owner


async def test_a_stuck_checkpoint_does_not_hold_up_the_others(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUI_SCRAPER_PG_LEASE_S", "2")
    store = await Store.open(pg_url)
    try:
        record = await store.create_session(config(), who="t")
        await store.acquire_run(record.id, owner(), who="t", reason="go")
        [seed] = await store.claim_batch(record.id, 1, now=0)
        # Another worker's connection, with the settings every worker's has, stopped right
        # after its checkpoint locked the session row.
        stuck = psycopg.connect(pg_url, **connect_kwargs(readonly=False))
        try:
            stuck.execute("BEGIN")
            stuck.execute("SELECT pages_total FROM sessions WHERE id = %s FOR UPDATE", (record.id,))
            done = PageResult(page_id=seed.id, url=seed.url, status=PageStatus.DONE, attempts=1)
            await asyncio.wait_for(
                store.checkpoint(record.id, [done], Progress(done=1), heartbeat=1), 20
            )
            assert await store.page_status(record.id, seed.url) is PageStatus.DONE
            with pytest.raises(psycopg.Error):  # woken: its transaction was ended for it
                stuck.execute("SELECT 1")
        finally:
            stuck.close()
    finally:
        await store.close()
