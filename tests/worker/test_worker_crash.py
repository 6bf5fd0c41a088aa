"""The crash test on a background worker: `crawl --detach`, SIGKILL the worker at random moments
(every process of its session, or only its main process, as an out-of-memory kill does), check
that the session reads `interrupted` at once and the store holds, measure what each kill costs,
`resume --detach`; at the end every page is done and each was fetched as often as the kills
explain, never more (the site's own log is the judge)."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.engine.invariants import assert_store_invariants, page_states
from tests.engine.killloop import (
    LEASE_FREE_BOUND_S,
    ORPHANS_GONE_BOUND_S,
    DetachedKillReport,
    detached_kill_loop,
)
from tests.engine.site import SiteServer, generated_site
from tui_scraper.engine.batching import BATCH_SIZE

from .helpers import (
    cli,
    kill_session,
    lease_held,
    session_members,
    sessions_json,
    status_of,
    wait_for,
    worker_pid,
)

CONCURRENCY = 8
# The refetch bound the crawler states: per kill, at most the requests in flight plus the batch
# being committed plus the batch gathered behind it.
KILL_BOUND = CONCURRENCY + 2 * BATCH_SIZE
ARGS = ["--concurrency", str(CONCURRENCY), "--per-host", str(CONCURRENCY)]


def _seed() -> int:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))
    print(f"crash test seed: {seed} (rerun with CRASH_SEED={seed})")
    return seed


def _expected(server: SiteServer, pages: int) -> set[str]:
    return {server.base + ("/" if i == 0 else f"/p/{i}.html") for i in range(pages)}


def _assert_exact(data: Path, server: SiteServer, report: DetachedKillReport, pages: int) -> None:
    """What the headless crash test asserts, for the worker's session."""
    print(
        f"kills={report.kills} refetches per kill={report.lost_per_kill} bound={KILL_BOUND} "
        f"processes per kill={report.processes_per_kill} "
        f"lease free after={[round(s, 3) for s in report.lease_free_after]} s "
        f"orphans gone after={[round(s, 3) for s in report.orphans_gone_after]} s "
        f"`sessions --json` said interrupted after={[round(s, 2) for s in report.listed_after]} s"
    )
    assert report.final_status == "completed", report.final_status
    states = page_states(data)
    assert {u for u, s in states.items() if s == "done"} == _expected(server, pages)
    assert all(s == "done" for s in states.values()), "nothing left queued/fetching/failed"
    assert_store_invariants(data)
    hits = server.hits()
    hits.pop("/robots.txt", None)
    duplicates = sum(n - 1 for n in hits.values())
    assert all(n <= 1 + report.kills for n in hits.values()), hits.most_common(3)
    # Per kill, not on average: every kill stays within the stated bound.
    assert all(lost <= KILL_BOUND for lost in report.lost_per_kill), report.lost_per_kill
    assert duplicates <= sum(report.lost_per_kill), (duplicates, report.lost_per_kill)
    assert all(s < LEASE_FREE_BOUND_S for s in report.lease_free_after)


@pytest.mark.slow
def test_sigkill_of_every_worker_process_at_random_points_resumes_exactly(
    data_dir: Path,
) -> None:
    seed = _seed()
    # Larger than the headless test's site: each round here also waits for a worker to start,
    # and a smaller site is done before the eighth kill.
    pages = 5000
    server = SiteServer(generated_site(pages, filler=60)).start()
    try:
        report = detached_kill_loop(data_dir, server, ARGS, kills=8, rng=random.Random(seed))
        _assert_exact(data_dir, server, report, pages)
        # Most kills land mid-crawl; on a fast machine the last ones may find it finished.
        assert report.kills >= 4, report
        # The worker had its parse processes (a forkserver and its children) when it was killed.
        assert all(n >= 3 for n in report.processes_per_kill), report.processes_per_kill
    finally:
        server.stop()


def test_two_sigkills_of_a_detached_worker_resume_exactly(data_dir: Path) -> None:
    seed = _seed()
    pages = 300
    # A rate keeps the crawl going for a few seconds, so both kills land mid-crawl.
    server = SiteServer(generated_site(pages, filler=20)).start()
    try:
        args = [*ARGS, "--rate", "60"]
        report = detached_kill_loop(data_dir, server, args, kills=2, rng=random.Random(seed))
        _assert_exact(data_dir, server, report, pages)
        assert report.kills == 2, report
        assert all(n >= 3 for n in report.processes_per_kill), report.processes_per_kill
    finally:
        server.stop()


def test_orphaned_parse_processes_exit_by_themselves_and_resume_is_exact(data_dir: Path) -> None:
    # An out-of-memory kill takes the worker's main process only: its forkserver and parse
    # processes, busy or idle, must notice that their parent is gone and exit on their own.
    seed = _seed()
    pages = 300
    server = SiteServer(generated_site(pages, filler=20)).start()
    try:
        args = [*ARGS, "--rate", "60"]
        report = detached_kill_loop(
            data_dir, server, args, kills=2, rng=random.Random(seed), main_only=True
        )
        _assert_exact(data_dir, server, report, pages)
        assert report.kills == 2, report
        assert all(n >= 3 for n in report.processes_per_kill), report.processes_per_kill
        assert len(report.orphans_gone_after) == 2
        assert all(s < ORPHANS_GONE_BOUND_S for s in report.orphans_gone_after)
    finally:
        server.stop()


# Nested divs: lexbor's parse time grows faster than the page (some 20 s to a minute here),
# far past the crawler's per-page parse deadline (10 s), which only the worker enforces.
SLOW_TO_PARSE = "<div>" * 100_000 + "x"
HOSTILE_PATH = "/hostile.html"


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_a_parse_process_busy_when_its_worker_dies_exits_at_once(data_dir: Path) -> None:
    # The out-of-memory kill of the worker lands while a parse process is deep in a page that
    # takes it far longer than the deadline: with nobody left to enforce the deadline, the
    # orphan must still stop within seconds, not burn a core until lexbor is done.
    pages = 120
    site = generated_site(pages, filler=20)
    site["/"] = site["/"].replace("</body>", f'<a href="{HOSTILE_PATH}">h</a></body>')
    site[HOSTILE_PATH] = SLOW_TO_PARSE
    server = SiteServer(site).start()
    leader = 0
    try:
        session_id = _start_detached_crawl(data_dir, server, [*ARGS, "--rate", "20"])
        leader = worker_pid(data_dir, session_id)
        wait_for(lambda: server.hits()[HOSTILE_PATH] == 1, timeout=30, what="hostile page served")

        def busy_parser() -> bool:
            return any(_cpu_seconds(p) >= 1.0 for p in session_members(leader) if p != leader)

        wait_for(busy_parser, timeout=8, what="a parse process is busy with the hostile page")
        os.kill(leader, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: not lease_held(data_dir, session_id), timeout=LEASE_FREE_BOUND_S)
        wait_for(
            lambda: not session_members(leader),
            timeout=ORPHANS_GONE_BOUND_S,
            what=f"the orphaned parse processes exit: {session_members(leader)}",
        )
        print(f"orphans gone {time.monotonic() - killed_at:.3f} s after the kill")
        assert [s["status"] for s in sessions_json(data_dir)] == ["interrupted"]
        assert_store_invariants(data_dir)

        resumed = cli(data_dir, "resume", session_id[:8], "--detach")
        assert resumed.returncode == 0, resumed.stderr
        wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=120)
        wait_for(lambda: not lease_held(data_dir, session_id), timeout=10)
        states = page_states(data_dir)
        assert states.pop(server.base + HOSTILE_PATH) == "failed"  # parse_timeout, once resumed
        assert set(states) == _expected(server, pages)
        assert set(states.values()) == {"done"}
        assert_store_invariants(data_dir)
        hits = server.hits()
        hits.pop("/robots.txt", None)
        assert all(n <= 2 for n in hits.values()), hits.most_common(3)
    finally:
        if leader:
            kill_session(leader)  # orphans a failed run left behind
        server.stop()


def _start_detached_crawl(data: Path, server: SiteServer, args: list[str]) -> str:
    started = cli(data, "crawl", server.base + "/", *args, "--detach")
    assert started.returncode == 0, started.stderr
    return started.stdout.strip().splitlines()[-1]
