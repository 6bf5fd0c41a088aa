"""A crawl whose robots.txt fetch keeps losing its fetch worker: its pages go back untouched.

robots.txt is fetched by a fetch worker (`FetchPool.fetch_robots`), which sends it again when
its worker dies; when that keeps happening, WorkerLost reaches the pages waiting for the rules.
Nothing was learnt about them: they go back to the queue as they were, and the crawl completes
once a worker answers. A real session, a real fetch worker killed with SIGKILL, a real site.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import CrawlConfig, Status
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import run_session

from .invariants import assert_store_invariants, page_states
from .site import SiteServer, generated_site

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import proctree  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

LOSSES = 3  # fetch_pool's tries for one robots.txt request


def _fetch_workers() -> list[int]:
    root = os.getpid()
    return [p for p in proctree.tree_pids(root) if proctree.role_of(p, root) == "fetch worker"]


async def test_pages_waiting_for_a_lost_robots_fetch_go_back_untouched(tmp_path: Path) -> None:
    calls = 0

    async def robots(_request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls <= LOSSES:
            await asyncio.sleep(10)  # its worker is killed meanwhile
        return web.Response(text="User-agent: *\nDisallow: /secret/\n", content_type="text/plain")

    site = SiteServer(generated_site(6, filler=1), extra={"/robots.txt": robots}).start()
    try:
        async with await Store.open(tmp_path / "data") as store:
            config = CrawlConfig(target_url=site.base + "/", retries=0)
            session_id = (await store.create_session(config, who="test")).id
            crawl = asyncio.create_task(
                run_session(
                    store,
                    session_id,
                    who="test",
                    secrets=DataDirSecrets(store.data_dir),
                    parse_workers=1,
                )
            )
            for loss in range(1, LOSSES + 1):
                deadline = time.monotonic() + 30
                while site.hits()["/robots.txt"] < loss:
                    assert time.monotonic() < deadline, f"robots.txt not asked for {loss} times"
                    assert not crawl.done()
                    await asyncio.sleep(0.01)
                (worker,) = _fetch_workers()
                os.kill(worker, signal.SIGKILL)
            status = await asyncio.wait_for(crawl, 60)
        assert status is Status.COMPLETED
        states = page_states(tmp_path / "data")
        assert len(states) == 6 and set(states.values()) == {"done"}
        assert site.hits()["/robots.txt"] == LOSSES + 1
        assert_store_invariants(tmp_path / "data")
    finally:
        site.stop()
