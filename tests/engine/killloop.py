"""SIGKILL a headless crawl again and again; measure what each kill costs in refetches.

A page is *refetched because of a kill* when the server had answered it before the kill but the
store does not hold its result after it (still `queued` or `fetching`): the resumed crawl
fetches it again. Counted per kill, right after the kill, from the server's log and the store.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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
