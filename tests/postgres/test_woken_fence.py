"""A worker process woken past its lease finds out before its next claim, not at its renewal
loop's next turn: the claim is refused (it would take pages from the session's new run and
hold them while it stops)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

from tui_scraper.backends.postgres import Store

from .helpers import owner, until

_WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from tui_scraper.backends.postgres import Store
    from tui_scraper.domain import CrawlConfig, LeaseOwner
    from tui_scraper.domain.errors import StorageUnavailable

    async def main():
        store = await Store.open(sys.argv[1])
        store.lease_seconds = 1.0
        record = await store.create_session(CrawlConfig(target_url="http://127.0.0.1:9/"), who="w")
        me = LeaseOwner(host="h", pid=os.getpid(), process_start=time.time(), run_id="stopped")
        await store.acquire_run(record.id, me, who="w", reason="go")
        store._renewer.cancel()  # only the claim itself can find out
        print(record.id, flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        try:
            claimed = await store.claim_batch(record.id, 10, now=0)
        except StorageUnavailable:
            print("refused", flush=True)
        else:
            print(f"claimed {len(claimed)}", flush=True)
        await store.close()

    asyncio.run(main())
    """
)


async def test_a_claim_after_waking_past_the_lease_is_refused(pg_url: str) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, pg_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None and worker.stdin is not None
    store = await Store.open(pg_url)
    try:
        session_id = (await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 60)).strip()
        os.kill(worker.pid, signal.SIGSTOP)

        async def lapsed() -> bool:
            return await store.lease_holder(session_id) is None

        await until(lapsed, what="the stopped worker's lease lapsing")
        assert await store.reap_orphans(who="reaper") == [session_id]
        await store.acquire_run(session_id, owner("new"), who="t", reason="take over")
        os.kill(worker.pid, signal.SIGCONT)
        worker.stdin.write("go\n")
        worker.stdin.flush()
        said = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 60)
        assert said.strip() == "refused"
        assert await asyncio.to_thread(worker.wait, 60) == 0
        [seed] = await store.claim_batch(session_id, 10, now=0)  # still the new run's to take
        assert seed.depth == 0
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
            worker.kill()
            worker.wait()
        await store.close()
