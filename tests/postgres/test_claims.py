"""Claims from several connections at once: SKIP LOCKED hands every row to exactly one claimer,
and a checkpoint writes only rows its own store still holds."""

from __future__ import annotations

import asyncio
import dataclasses

from tui_scraper.backends.postgres import Store
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress, Status

from .helpers import SITE, config, sql

PAGES = 1500


async def _seeded(url: str) -> tuple[Store, str]:
    store = await Store.open(url)
    record = await store.create_session(config(), who="t")
    await store.transition(record.id, Status.RUNNING, reason="go", who="t")
    [seed] = await store.claim_batch(record.id, 1, now=0)
    found = [DiscoveredLink(f"{SITE}/p{i}", 1, seed.id) for i in range(PAGES)]
    done = PageResult(
        page_id=seed.id, url=seed.url, status=PageStatus.DONE, attempts=1, links=found
    )
    assert await store.checkpoint(record.id, [done], Progress(), heartbeat=1) == PAGES
    return store, record.id


async def test_two_connections_racing_for_claims_never_get_the_same_url(pg_url: str) -> None:
    first, session_id = await _seeded(pg_url)
    second = await Store.open(pg_url)
    handed: dict[str, list[str]] = {"first": [], "second": []}

    async def drain(name: str, store: Store) -> None:
        while True:
            batch = await store.claim_batch(session_id, 7, now=0)
            if not batch:
                return
            handed[name] += [page.url for page in batch]

    try:
        await asyncio.gather(drain("first", first), drain("second", second))
    finally:
        await second.close()
        await first.close()
    every = handed["first"] + handed["second"]
    assert len(every) == len(set(every)) == PAGES  # none twice, none missed
    assert handed["first"] and handed["second"]  # both really took part
    assert sql(pg_url, "SELECT count(*) FROM pages WHERE status = 'fetching'") == [(PAGES,)]


async def test_a_checkpoint_never_writes_over_a_row_another_store_claimed_since(
    pg_url: str,
) -> None:
    late, session_id = await _seeded(pg_url)
    other = await Store.open(pg_url)
    try:
        [mine] = await late.claim_batch(session_id, 1, now=0)
        # Its claim lapses (the store was stopped past it) and the row is claimed anew.
        sql(pg_url, "UPDATE pages SET lease_until = 0 WHERE id = %s", (mine.id,))
        [taken] = await other.claim_batch(session_id, 1, now=0)
        assert taken.id == mine.id
        theirs = PageResult(
            page_id=taken.id, url=taken.url, status=PageStatus.DONE, attempts=1, title="theirs"
        )
        stale = dataclasses.replace(
            theirs,
            title="stale",
            links=[DiscoveredLink(f"{SITE}/from-stale", 2, mine.id)],
        )
        assert await late.checkpoint(session_id, [stale], Progress(), heartbeat=2) == 0
        assert await other.page_status(session_id, taken.url) is PageStatus.FETCHING
        await other.checkpoint(session_id, [theirs], Progress(), heartbeat=3)
        [page] = [
            p
            for p in await other.pages_after(session_id, status=PageStatus.DONE)
            if p.id == taken.id
        ]
        assert page.title == "theirs"
        assert await other.page_status(session_id, f"{SITE}/from-stale") is None
    finally:
        await other.close()
        await late.close()
