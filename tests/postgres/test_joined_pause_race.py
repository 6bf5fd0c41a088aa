"""A pause the owner was slow to apply: a joined worker applies it once CONTROL_TAKEOVER_S has
passed, and the owner, applying the same record late or never, ends its run on the paused
session without an error (its own transition is refused: the session is already where it
should be), and stops crawling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import CrawlConfig, PageStatus, Status
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import SessionRunner

from .helpers import sql, until

PAGES = 2000


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES)).start()
    yield server
    server.stop()


async def _owner_and_joined(
    pg_url: str, site: SiteServer, tmp_path: Path
) -> tuple[Store, Store, SessionRunner, SessionRunner, asyncio.Task[Status], asyncio.Task[Status]]:
    """The owner crawling (with enough queued that the worker joining finds pages to claim),
    then a worker that joined it; both runs started."""
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    # Paced: the crawl lasts far longer than the takeover delay.
    cfg = CrawlConfig(target_url=site.base + "/", concurrency=4, rate_per_host=20.0)
    session_id = (await a.create_session(cfg, who="test")).id
    secrets = DataDirSecrets(tmp_path)
    owner = await SessionRunner.acquire(
        a, session_id, who="owner", secrets=secrets, parse_workers=0
    )
    owner_run = asyncio.create_task(owner.run())

    async def started() -> bool:
        return (await a.page_counts(session_id)).get(PageStatus.QUEUED, 0) >= 200

    await until(started, timeout=60, what="a frontier wide enough for two workers")
    joined = await SessionRunner.join(b, session_id, who="joined", secrets=secrets, parse_workers=0)
    return a, b, owner, joined, owner_run, asyncio.create_task(joined.run())


def _paused_events(pg_url: str, session_id: str) -> int:
    rows = sql(
        pg_url,
        "SELECT count(*) FROM session_events WHERE session_id = %s AND to_status = 'paused'",
        (session_id,),
    )
    return int(rows[0][0])


async def test_the_owner_applying_a_pause_a_joined_worker_applied_first_is_no_error(
    pg_url: str, site: SiteServer, tmp_path: Path
) -> None:
    a, b, owner, _joined, owner_run, joined_run = await _owner_and_joined(pg_url, site, tmp_path)
    session_id = owner.session_id
    try:
        record = await a.post_control(session_id, "pause", who="cli:1")
        assert await asyncio.wait_for(joined_run, 60) is Status.PAUSED

        async def paused() -> bool:
            return (await a.get_session(session_id)).status is Status.PAUSED

        await until(paused, what="the joined worker's pause")
        # The owner read the same record before it was marked applied, and applies it now.
        owner.pause()
        assert await asyncio.wait_for(owner_run, 60) is Status.PAUSED
        assert owner.stats.state is Status.PAUSED
        assert (await a.get_control(record.id)).applied_at is not None
        assert _paused_events(pg_url, session_id) == 1
        assert sql(pg_url, "SELECT count(*) FROM pages WHERE status = 'fetching'") == [(0,)]
        assert sql(pg_url, "SELECT count(*) FROM session_workers") == [(0,)]
    finally:
        await a.close()
        await b.close()


async def test_the_owner_stops_when_a_joined_worker_paused_the_session(
    pg_url: str, site: SiteServer, tmp_path: Path
) -> None:
    """The owner never applies the record (it was marked applied by the joined worker before
    the owner's next poll): it follows the session's status and stops crawling."""
    a, b, owner, _joined, owner_run, joined_run = await _owner_and_joined(pg_url, site, tmp_path)
    session_id = owner.session_id
    try:
        await a.post_control(session_id, "pause", who="cli:1")
        assert await asyncio.wait_for(joined_run, 60) is Status.PAUSED
        assert await asyncio.wait_for(owner_run, 30) is Status.PAUSED
        assert (await a.get_session(session_id)).status is Status.PAUSED
        assert _paused_events(pg_url, session_id) == 1
        done = sql(pg_url, "SELECT count(*) FROM pages WHERE status = 'done'")[0][0]
        assert 0 < done < PAGES
        assert sql(pg_url, "SELECT count(*) FROM pages WHERE status = 'fetching'") == [(0,)]
    finally:
        await a.close()
        await b.close()
