"""The run lease as a row lease: a live owner (renewing) is never reaped, one that stopped
renewing is once its lease lapses, and it then learns that it lost the session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tui_scraper.backends.postgres import Store
from tui_scraper.domain import InvalidTransition, PageResult, PageStatus, Progress, Status
from tui_scraper.domain.errors import StorageUnavailable

from .helpers import config, owner, sql, until

SHORT = 0.6  # seconds: the lease of the stores under test


def _lease_until(url: str, session_id: str) -> float:
    [(value,)] = sql(url, "SELECT lease_until FROM sessions WHERE id = %s", (session_id,))
    return float(value)


async def test_a_live_owner_renews_its_lease_and_is_never_reaped(pg_url: str) -> None:
    store = await Store.open(pg_url)
    store.lease_seconds = SHORT
    reaper = await Store.open(pg_url)
    try:
        record = await store.create_session(config(), who="t")
        await store.acquire_run(record.id, owner(), who="t", reason="go")
        first = _lease_until(pg_url, record.id)

        async def renewed_past_first_expiry() -> bool:
            return _lease_until(pg_url, record.id) > first + SHORT

        await until(renewed_past_first_expiry, what="the store renewing its lease by itself")
        assert await reaper.reap_orphans() == []
        assert (await reaper.get_session(record.id)).status is Status.RUNNING
        assert await store.renew_run(record.id) is True
        assert (await reaper.lease_holder(record.id) or {}).get("run_id") == "run"
    finally:
        await reaper.close()
        await store.close()


async def test_an_owner_that_stops_renewing_is_reaped_and_then_learns_it_lost(
    pg_url: str,
) -> None:
    stalled = await Store.open(pg_url)
    stalled.lease_seconds = SHORT
    other = await Store.open(pg_url)
    try:
        record = await stalled.create_session(config(), who="t")
        await stalled.acquire_run(record.id, owner("stalled"), who="t", reason="go")
        [claimed] = await stalled.claim_batch(record.id, 1, now=0)
        assert stalled._renewer is not None
        stalled._renewer.cancel()  # as if the process were stopped: its connection stays up

        async def lapsed() -> bool:
            return await other.lease_holder(record.id) is None

        await until(lapsed, what="the lease lapsing")
        assert await other.reap_orphans(who="reaper") == [record.id]
        assert await other.page_status(record.id, claimed.url) is PageStatus.QUEUED
        await other.acquire_run(record.id, owner("new"), who="t", reason="take over")
        [again] = await other.claim_batch(record.id, 1, now=0)
        assert again.id == claimed.id
        # The stalled owner wakes up: its renewal says it lost; its late batch and its closing
        # transition are refused, so nothing it does lands on the new owner's run.
        assert await stalled.renew_run(record.id) is False
        assert not stalled.holds_lease(record.id)
        late = PageResult(page_id=claimed.id, url=claimed.url, status=PageStatus.DONE, attempts=1)
        with pytest.raises(StorageUnavailable, match="lost its lease"):
            await stalled.checkpoint(record.id, [late], Progress(done=1), heartbeat=5)
        with pytest.raises(InvalidTransition):
            await stalled.transition(record.id, Status.INTERRUPTED, reason="stop", who="t")
        assert await other.page_status(record.id, claimed.url) is PageStatus.FETCHING
        now = await other.get_session(record.id)
        assert now.status is Status.RUNNING and now.lease_owner is not None
        assert (await other.lease_holder(record.id) or {}).get("run_id") == "new"
    finally:
        await other.close()
        await stalled.close()


_OWNER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from tui_scraper.backends.postgres import Store
    from tui_scraper.domain import CrawlConfig, LeaseOwner

    async def main():
        store = await Store.open(sys.argv[1])
        record = await store.create_session(CrawlConfig(target_url="http://127.0.0.1:9/"), who="t")
        me = LeaseOwner(host="h", pid=os.getpid(), process_start=time.time(), run_id="child")
        await store.acquire_run(record.id, me, who="t", reason="go")
        print(record.id, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_a_killed_owner_process_is_provably_gone_at_once(pg_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _OWNER, pg_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        session_id = child.stdout.readline().strip()
        store = await Store.open(pg_url)
        try:
            assert (await store.lease_holder(session_id) or {}).get("pid") == child.pid
            assert await store.reap_orphans() == []
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)

            async def reaped() -> bool:
                return await store.reap_orphans() == [session_id]

            # Well before its 30 s lease would lapse: the server drops its lock with it.
            await until(reaped, timeout=10, what="the dead owner reaped")
            assert (await store.get_session(session_id)).status is Status.INTERRUPTED
        finally:
            await store.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
