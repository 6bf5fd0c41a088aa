"""SIGKILL a crawl again and again; measure what each kill costs in refetches.

`kill_loop` kills a headless crawl (the CLI process itself); `detached_kill_loop` kills a
background worker started by `crawl --detach` — every process of its session, or only its main
process (as the kernel's OOM killer would), leaving the parse processes to notice by themselves.

A page is *refetched because of a kill* when the server had answered it before the kill but the
store does not hold its result after it (still `queued` or `fetching`): the resumed crawl
fetches it again. Counted per kill, right after the kill, from the server's log and the store.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.worker.helpers import (
    cli as worker_cli,
)
from tests.worker.helpers import (
    kill_session,
    lease_held,
    session_members,
    sessions_json,
    status_of,
    wait_for,
    worker_pid,
)

from .conftest import popen_cli
from .invariants import assert_store_invariants, connect_ro, page_states, session_status
from .site import SiteServer

UNSETTLED = ("queued", "fetching")


@dataclass
class KillReport:
    kills: int = 0
    lost_per_kill: list[int] = field(default_factory=list)
    final_returncode: int | None = None
    final_stderr: str = ""


def done_count(data: Path) -> int:
    try:
        db = connect_ro(data)
        try:
            return int(db.execute("SELECT count(*) FROM pages WHERE status = 'done'").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:  # not created or not migrated yet
        return 0


def lost_by_kill(data: Path, server: SiteServer, charged: Counter[str]) -> int:
    """Pages the server served since they were last counted whose result the store does not
    hold: each is fetched again on resume. `charged` (url -> hits already counted) makes a page
    lost at one kill and not refetched before the next count once, not twice."""
    hits = {server.base + path: n for path, n in server.hits().items() if path != "/robots.txt"}
    db = connect_ro(data)
    try:
        unsettled = {
            url
            for (url,) in db.execute(
                "SELECT url FROM pages WHERE status IN (?, ?)", UNSETTLED
            ).fetchall()
        }
    finally:
        db.close()
    lost = 0
    for url in unsettled:
        if hits.get(url, 0) > charged[url]:
            charged[url] = hits[url]
            lost += 1
    return lost


def _wait_for_more_done(
    data: Path, before: int, proc: subprocess.Popen[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while done_count(data) <= before and time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        time.sleep(0.05)


def kill_loop(
    data: Path,
    server: SiteServer,
    crawl_args: list[str],
    *,
    kills: int,
    rng: random.Random,
    max_pause: float = 0.6,
) -> KillReport:
    """Start the crawl, then up to `kills` times: let it progress, SIGKILL it at a random moment,
    check the store, measure the loss, resume. Ends by letting the last run finish."""
    report = KillReport()
    charged: Counter[str] = Counter()
    proc = popen_cli(data, "crawl", server.base + "/", *crawl_args)
    deadline = time.monotonic() + 60
    while done_count(data) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    session_id = session_status(data)[0][0]
    for _round in range(kills):
        # Each kill lands after the run has made progress of its own, at a random moment.
        _wait_for_more_done(data, done_count(data), proc, timeout=60)
        time.sleep(rng.uniform(0.05, max_pause))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        report.kills += 1
        assert_store_invariants(data)
        report.lost_per_kill.append(lost_by_kill(data, server, charged))
        if session_status(data)[0][1] == "completed":
            break  # the kill landed after the last commit, while the process was exiting
        proc = popen_cli(data, "resume", session_id[:8], "--headless")
    if proc.returncode is None or proc.returncode >= 0:
        _out, report.final_stderr = proc.communicate(timeout=600)
    report.final_returncode = proc.returncode
    return report


def all_done(data: Path) -> bool:
    return all(s == "done" for s in page_states(data).values())


# The lease is an flock that dies with the process holding it: a killed worker's session reads
# `interrupted` as soon as the kernel has closed its files, with no timeout to wait out.
LEASE_FREE_BOUND_S = 1.0
# Parse processes orphaned by their worker's death notice it on their job pipe (EOF) once the
# page they are parsing is done; the forkserver notices on its own pipe.
ORPHANS_GONE_BOUND_S = 5.0


@dataclass
class DetachedKillReport(KillReport):
    session_id: str = ""
    processes_per_kill: list[int] = field(default_factory=list)  # the session's, at the kill
    lease_free_after: list[float] = field(default_factory=list)  # s from the kill
    orphans_gone_after: list[float] = field(default_factory=list)  # s from the kill (main only)
    listed_after: list[float] = field(default_factory=list)  # s from the kill to `sessions` said
    final_status: str = ""
    last_kill_at: float = 0.0


def _wait_for_more_done_detached(data: Path, session_id: str, before: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while done_count(data) <= before and time.monotonic() < deadline:
        if not lease_held(data, session_id):
            return  # the worker finished (or died) meanwhile
        time.sleep(0.05)


def _start_detached(data: Path, *args: str) -> str:
    started = worker_cli(data, *args, "--detach")
    assert started.returncode == 0, started.stderr
    return started.stdout.strip().splitlines()[-1]


def _kill_worker(
    data: Path, session_id: str, leader: int, report: DetachedKillReport, *, main_only: bool
) -> None:
    """SIGKILL the worker (its whole session, or its main process only), then wait for its lease
    to be free and for every process of its session to be gone, recording how long each took."""
    report.processes_per_kill.append(len(session_members(leader)))
    killed_at = report.last_kill_at = time.monotonic()
    if main_only:
        os.kill(leader, signal.SIGKILL)
    else:
        kill_session(leader)
    wait_for(
        lambda: not lease_held(data, session_id),
        timeout=LEASE_FREE_BOUND_S,
        what="the killed worker's lease is free",
    )
    report.lease_free_after.append(time.monotonic() - killed_at)
    if main_only:
        wait_for(
            lambda: not session_members(leader),
            timeout=ORPHANS_GONE_BOUND_S,
            what=f"the orphaned parse processes of {leader} exit: {session_members(leader)}",
        )
        report.orphans_gone_after.append(time.monotonic() - killed_at)
    assert session_members(leader) == []


def detached_kill_loop(
    data: Path,
    server: SiteServer,
    crawl_args: list[str],
    *,
    kills: int,
    rng: random.Random,
    max_pause: float = 0.6,
    main_only: bool = False,
) -> DetachedKillReport:
    """`crawl --detach`, then up to `kills` times: let the worker progress, SIGKILL it at a random
    moment, check that the session reads `interrupted`, the store, measure the loss, and
    `resume --detach`. Ends by letting the last worker finish."""
    report = DetachedKillReport()
    charged: Counter[str] = Counter()
    session_id = report.session_id = _start_detached(data, "crawl", server.base + "/", *crawl_args)
    wait_for(lambda: done_count(data) > 0, timeout=60, what="a first page is done")
    for _round in range(kills):
        if not lease_held(data, session_id):
            break
        leader = worker_pid(data, session_id)
        _wait_for_more_done_detached(data, session_id, done_count(data), timeout=60)
        time.sleep(rng.uniform(0.05, max_pause))
        if not lease_held(data, session_id):
            break  # it completed before the kill
        _kill_worker(data, session_id, leader, report, main_only=main_only)
        report.kills += 1
        assert_store_invariants(data)
        report.lost_per_kill.append(lost_by_kill(data, server, charged))
        listed = {s["id"]: s["status"] for s in sessions_json(data)}
        report.listed_after.append(time.monotonic() - report.last_kill_at)
        stored = status_of(data, session_id)
        if stored == "completed":
            break  # the kill landed after the last commit, while the worker was exiting
        # The record still says `running` (nobody was left to change it); what every reader
        # shows is `interrupted`, since the lease is free.
        assert (stored, listed[session_id]) == ("running", "interrupted"), (stored, listed)
        assert _start_detached(data, "resume", session_id[:8]) == session_id
    wait_for(
        lambda: status_of(data, session_id) != "running" or not lease_held(data, session_id),
        timeout=600,
        what="the last worker finishes",
    )
    wait_for(lambda: not lease_held(data, session_id), timeout=10, what="the last worker exits")
    report.final_status = status_of(data, session_id)
    return report
