"""The refetch bound, measured: SIGKILL a crawl of a large site at random moments, count per
kill the pages it must fetch again, and hold each kill to the bound the crawler states.

Slow (minutes): `pytest -m slow tests/engine/test_refetch_bound.py -s` prints the figures the
README quotes. REFETCH_PAGES and REFETCH_KILLS change the size of the run.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
from pathlib import Path

import pytest

from tui_scraper.engine.batching import BATCH_SIZE

from .invariants import assert_store_invariants, page_states, session_status
from .killloop import kill_loop
from .site import SiteServer, generated_site

PAGES = int(os.environ.get("REFETCH_PAGES", "20000"))
KILLS = int(os.environ.get("REFETCH_KILLS", "10"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("concurrency", [16, 64])
def test_refetches_per_kill_within_the_stated_bound(tmp_path: Path, concurrency: int) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))
    bound = concurrency + 2 * BATCH_SIZE
    server = SiteServer(generated_site(PAGES, filler=20)).start()
    data = tmp_path / "d"
    try:
        args = ["--headless", "--concurrency", str(concurrency), "--per-host", str(concurrency)]
        report = kill_loop(data, server, args, kills=KILLS, rng=random.Random(seed), max_pause=1.5)
        lost = report.lost_per_kill
        print(
            f"\npages={PAGES} C={concurrency} seed={seed} kills={report.kills} bound={bound} "
            f"refetches per kill={lost} min={min(lost)} median={statistics.median(lost):g} "
            f"max={max(lost)}"
        )
        if report.final_returncode != -signal.SIGKILL:
            assert report.final_returncode == 0, report.final_stderr
        assert report.kills >= min(KILLS, 3)
        assert all(n <= bound for n in lost), (lost, bound)
        assert session_status(data)[0][1] == "completed"
        assert set(page_states(data).values()) == {"done"}
        assert_store_invariants(data)
    finally:
        server.stop()
