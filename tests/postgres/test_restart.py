"""The database restarted under a running store: it waits (telling its listeners), reconnects
with backoff and carries on; nothing committed is lost, and its lease lock is taken again."""

from __future__ import annotations

import asyncio

from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress

from .helpers import SITE, config, owner


async def test_a_restart_mid_crawl_is_waited_out_and_the_crawl_carries_on(
    pg_server: PgServer, pg_url: str
) -> None:
    store = await Store.open(pg_url)
    told: list[str] = []
    store.add_wait_listener(told.append)
    try:
        record = await store.create_session(config(), who="t")
        await store.acquire_run(record.id, owner(), who="t", reason="go")
        [seed] = await store.claim_batch(record.id, 1, now=0)
        result = PageResult(
            page_id=seed.id,
            url=seed.url,
            status=PageStatus.DONE,
            attempts=1,
            links=[DiscoveredLink(f"{SITE}/after", 1, seed.id)],
        )
        await asyncio.to_thread(pg_server.restart)  # every connection of the store is cut
        assert await store.checkpoint(record.id, [result], Progress(done=1), heartbeat=2) == 1
        assert await store.page_status(record.id, f"{SITE}/after") is PageStatus.QUEUED
        assert told and told[0].startswith("waiting for the database") and told[-1] == ""
        # The lease lock died with the old connection: the next renewal takes it again.
        assert await store.renew_run(record.id) is True
        holder = await store.lease_holder(record.id)
        assert holder is not None and holder["run_id"] == "run"
    finally:
        await store.close()
