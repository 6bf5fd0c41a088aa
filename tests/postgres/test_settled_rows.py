"""A worker woken past its claims (SIGSTOP, a long cut-off) whose pages another worker took over
and already committed: its late checkpoint leaves their results as they are, and the links it
found are still inserted once."""

from __future__ import annotations

import dataclasses

from tui_scraper.backends.postgres import Store
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress, Status

from .helpers import SITE, config, sql


async def test_a_late_checkpoint_leaves_a_row_the_new_claimer_settled(pg_url: str) -> None:
    late, other = await Store.open(pg_url), await Store.open(pg_url)
    try:
        record = await late.create_session(config(), who="t")
        await late.transition(record.id, Status.RUNNING, reason="go", who="t")
        [mine] = await late.claim_batch(record.id, 1, now=0)
        sql(pg_url, "UPDATE pages SET lease_until = 0 WHERE id = %s", (mine.id,))  # lapsed
        [taken] = await other.claim_batch(record.id, 1, now=0)
        assert taken.id == mine.id
        theirs = PageResult(
            page_id=taken.id,
            url=taken.url,
            status=PageStatus.DONE,
            attempts=1,
            title="theirs",
            fetched_at=100.0,
        )
        await other.checkpoint(record.id, [theirs], Progress(), heartbeat=2)
        stale = dataclasses.replace(
            theirs,
            status=PageStatus.FAILED,
            title="stale",
            fetched_at=50.0,
            links=[DiscoveredLink(f"{SITE}/found-late", 1, mine.id)],
        )
        assert await late.checkpoint(record.id, [stale], Progress(), heartbeat=3) == 1
        page = await late.get_page(mine.id)
        assert (page.status, page.title, page.fetched_at) == (PageStatus.DONE, "theirs", 100.0)
        assert await late.page_status(record.id, f"{SITE}/found-late") is PageStatus.QUEUED
        assert sql(pg_url, "SELECT pages_total FROM sessions WHERE id = %s", (record.id,)) == [(2,)]
    finally:
        await other.close()
        await late.close()
