"""A real worker process stopped with SIGSTOP past its lease, then continued: it notices that it
lost the session and does not commit over the new owner's claim."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

from tui_scraper.backends.postgres import Store
from tui_scraper.domain import PageStatus, Status

from .helpers import owner, until

_WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from tui_scraper.backends.postgres import Store
    from tui_scraper.domain import CrawlConfig, LeaseOwner, PageResult, PageStatus, Progress
    from tui_scraper.domain.errors import StorageUnavailable

    async def main():
        store = await Store.open(sys.argv[1])
        store.lease_seconds = 1.0
        record = await store.create_session(CrawlConfig(target_url="http://127.0.0.1:9/"), who="w")
        me = LeaseOwner(host="h", pid=os.getpid(), process_start=time.time(), run_id="stopped")
        await store.acquire_run(record.id, me, who="w", reason="go")
        [page] = await store.claim_batch(record.id, 1, now=0)
        print(record.id, page.id, flush=True)
        while store.holds_lease(record.id):  # until its own renewal finds the lease gone
            await asyncio.sleep(0.05)
        late = PageResult(page_id=page.id, url=page.url, status=PageStatus.DONE, attempts=1,
                          title="stale")
        try:
            await store.checkpoint(record.id, [late], Progress(done=1), heartbeat=time.time())
        except StorageUnavailable:
            print("refused", flush=True)
        else:
            print("written", flush=True)
        await store.close()

    asyncio.run(main())
    """
)


async def test_a_worker_stopped_past_its_lease_loses_it_and_commits_nothing(pg_url: str) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, pg_url], stdout=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None
    store = await Store.open(pg_url)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 60)
        session_id, page_id = line.split()
        os.kill(worker.pid, signal.SIGSTOP)

        async def lapsed() -> bool:
            return await store.lease_holder(session_id) is None

        await until(lapsed, what="the stopped worker's lease lapsing")
        assert await store.reap_orphans(who="reaper") == [session_id]
        await store.acquire_run(session_id, owner("new"), who="t", reason="take over")
        [taken] = await store.claim_batch(session_id, 1, now=0)
        assert taken.id == int(page_id)
        os.kill(worker.pid, signal.SIGCONT)
        said = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 60)
        assert said.strip() == "refused"
        assert await asyncio.to_thread(worker.wait, 60) == 0
        assert await store.page_status(session_id, taken.url) is PageStatus.FETCHING
        [page] = await store.pages_after(session_id)
        assert page.title is None
        record = await store.get_session(session_id)
        assert record.status is Status.RUNNING and record.progress.done == 0
        assert (await store.lease_holder(session_id) or {}).get("run_id") == "new"
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
            worker.kill()
            worker.wait()
        await store.close()
