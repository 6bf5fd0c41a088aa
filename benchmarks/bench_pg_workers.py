"""Several workers on one PostgreSQL session, as separate processes of the real CLI.

    python benchmarks/bench_pg_workers.py [--pages 3000] [--workers 1,2,4] [--rows 1000000]
                                          [--claims 200] [--lease 30] [--url postgresql://...]

Prints a table of:
(1) pages/s of one session crawled by 1, 2 and 4 processes (`crawl --headless`, which starts it,
    plus N-1 `tui-scraper worker --session ID` that join once its frontier is wide enough to
    share) against the same generated site on 127.0.0.1, with `crawl --headless` on SQLite
    beside it; CPU ms per page of the tui-scraper processes (user + sys of every process the
    benchmark started, and of their forkservers and fetch workers: it is their child
    subreaper, so it reaps what outlives its parent) and of the database server
    (its postmaster's own and reaped backends' time, when the benchmark started the cluster);
(2) claims/s from a frontier of `--rows` queued rows, batches of 100, from 1 and from 2
    connections claiming at once (each its own store);
(3) the time from a worker's SIGKILL to the last of the claims it held being crawled by the
    others (the lease is `--lease` s; a killed worker's lock goes with its connection, so its
    claims return at the others' next look for lapsed claims), and the same for a worker
    stopped with SIGSTOP (hung: its lock stays held, so its claims return when the lease
    lapses).
Without --url it starts a private cluster (tests/pg_server.py; fsync off there, so the figures
are the store's cost rather than the disk's). Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks.bench_pg_store import _fill_pg
from tests.engine.site import SiteServer, generated_site
from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store as PgStore
from tui_scraper.domain import CrawlConfig, Status

BATCH = 100
CONCURRENCY = 8
# A joined worker that finds nothing to claim leaves at once: the others join once the shared
# frontier holds this many queued pages per worker.
QUEUED_PER_WORKER = 100


def _sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _cli(args: list[str], data_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    child_env = {**os.environ, "TUI_SCRAPER_DATA_DIR": str(data_dir), **env}
    child_env.pop("TUI_SCRAPER_DB", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tui_scraper", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_env,
    )


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.02)


def _become_subreaper() -> None:
    """Orphaned descendants (a crawl's forkserver and fetch workers, which outlive it by a
    moment) are reparented to this process, so their CPU is counted once reaped."""
    import ctypes

    pr_set_child_subreaper = 36
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _reap_descendants(limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def _children_cpu() -> float:
    """User + sys of every process reaped so far (after reaping what has ended)."""
    _reap_descendants()
    t = os.times()
    return t.children_user + t.children_system


class ServerCpu:
    """CPU seconds of the cluster the benchmark started: the postmaster's own plus what it
    reaped (every backend that ended: the crawl's processes have exited, and their
    connections with them, before each reading)."""

    def __init__(self, server: PgServer | None) -> None:
        self._pid: int | None = None
        if server is not None and server.cluster is not None:
            self._pid = int((server.cluster.data / "postmaster.pid").read_text().split()[0])

    def seconds(self) -> float | None:
        if self._pid is None:
            return None
        fields = Path(f"/proc/{self._pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")


def _session_id(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        raise SystemExit("the crawl printed no session id")
    return line.split()[0]


def _crawl_args(site: SiteServer, db: str | None) -> list[str]:
    where = ["--db", db] if db else []
    return [
        *where,
        "crawl",
        f"{site.base}/",
        "--headless",
        "--concurrency",
        str(CONCURRENCY),
        "--per-host",
        str(CONCURRENCY),
    ]


def _queued(url: str, session_id: str) -> int:
    rows = _sql(
        url, "SELECT count(*) FROM pages WHERE session_id = %s AND status = 'queued'", (session_id,)
    )
    return int(rows[0][0])


def crawl_with_workers(
    url: str, site: SiteServer, tmp: Path, workers: int, cpu: ServerCpu
) -> tuple[float, float, float | None, int]:
    """(pages/s, client CPU ms/page, server CPU ms/page, pages done) of one session."""
    data_dir = Path(tempfile.mkdtemp(dir=tmp))
    server_before = cpu.seconds()
    before = _children_cpu()
    started = time.perf_counter()
    owner = _cli(_crawl_args(site, url), data_dir, {})
    session_id = _session_id(owner)
    procs = [owner]
    if workers > 1:
        _wait(
            lambda: (
                _queued(url, session_id) >= QUEUED_PER_WORKER * workers or owner.poll() is not None
            ),
            120,
            "a frontier wide enough to share",
        )
        for _ in range(workers - 1):
            procs.append(_cli(["--db", url, "worker", "--session", session_id], data_dir, {}))
    for proc in procs:
        proc.wait(600)
    wall = time.perf_counter() - started
    client = _children_cpu() - before
    [(status, done)] = _sql(
        url,
        "SELECT s.status, (SELECT count(*) FROM pages p WHERE p.session_id = s.id "
        "AND p.status = 'done') FROM sessions s WHERE s.id = %s",
        (session_id,),
    )
    if status != Status.COMPLETED.value:
        raise SystemExit(f"the session ended {status}")
    server_after = cpu.seconds()
    server_ms = (
        None
        if server_before is None or server_after is None
        else 1000 * (server_after - server_before) / max(done, 1)
    )
    return done / wall, 1000 * client / max(done, 1), server_ms, int(done)


def crawl_sqlite(site: SiteServer, tmp: Path) -> tuple[float, float, int]:
    data_dir = Path(tempfile.mkdtemp(dir=tmp))
    before = _children_cpu()
    started = time.perf_counter()
    proc = _cli(_crawl_args(site, None), data_dir, {})
    proc.wait(600)
    wall = time.perf_counter() - started
    client = _children_cpu() - before
    import sqlite3

    db = sqlite3.connect(data_dir / "scraper.db")
    try:
        [(done,)] = db.execute("SELECT count(*) FROM pages WHERE status = 'done'").fetchall()
    finally:
        db.close()
    return done / wall, 1000 * client / max(done, 1), int(done)


async def claims_per_second(url: str, rows: int, claims: int) -> dict[int, float]:
    """Claims/s from `rows` queued rows, from 1 and 2 connections at once."""
    figures: dict[int, float] = {}
    stores = [await PgStore.open(url) for _ in range(2)]
    try:
        record = await stores[0].create_session(
            CrawlConfig(target_url="http://bench.test/"), who="bench"
        )
        await stores[0].transition(record.id, Status.RUNNING, reason="bench", who="bench")
        await asyncio.to_thread(_fill_pg, url, record.id, rows)

        async def drain(store: PgStore) -> int:
            got = 0
            for _ in range(claims):
                got += len(await store.claim_batch(record.id, BATCH, now=time.time()))
            return got

        for n in (1, 2):
            started = time.perf_counter()
            got = sum(await asyncio.gather(*(drain(s) for s in stores[:n])))
            figures[n] = got / (time.perf_counter() - started)
    finally:
        for store in stores:
            await store.close()
    return figures


def claims_back_after(
    url: str, site: SiteServer, tmp: Path, how: signal.Signals, lease: float
) -> tuple[float, int]:
    """Seconds from `how` sent to a worker holding claims to the last of them being done by
    the crawl that started the session; and how many it held."""
    data_dir = Path(tempfile.mkdtemp(dir=tmp))
    env = {"TUI_SCRAPER_PG_LEASE_S": str(lease)}
    # Paced, so the session is still running when the claims come back.
    owner = _cli([*_crawl_args(site, url), "--rate", "60"], data_dir, env)
    session_id = _session_id(owner)
    _wait(lambda: _queued(url, session_id) >= 200, 120, "a wide frontier")
    victim = _cli(["--db", url, "worker", "--session", session_id], data_dir, env)
    pid = str(victim.pid)

    def held() -> list[int]:
        rows = _sql(
            url,
            "SELECT p.id FROM pages p JOIN session_workers w ON w.worker_id = p.lease_owner "
            "WHERE w.session_id = %s AND split_part(w.owner, ':', 2) = %s "
            "AND p.status = 'fetching'",
            (session_id, pid),
        )
        return [int(r[0]) for r in rows]

    _wait(lambda: len(held()) >= 4, 120, "the worker holding claims")
    victim.send_signal(signal.SIGSTOP)
    ids = held()
    if how is signal.SIGKILL:
        victim.kill()
    sent = time.perf_counter()
    _wait(
        lambda: (
            int(
                _sql(
                    url,
                    "SELECT count(*) FROM pages WHERE id = ANY(%s) "
                    "AND status IN ('done', 'failed')",
                    (ids,),
                )[0][0]
            )
            == len(ids)
        ),
        lease * 4 + 60,
        "the claims crawled again",
    )
    back = time.perf_counter() - sent
    for proc in (victim, owner):
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(60)
    return back, len(ids)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--url", default="", help="a role that may create databases")
    args = parser.parse_args()
    server = PgServer.start() if not args.url else PgServer(args.url, None)
    cpu = ServerCpu(server)
    _become_subreaper()  # after the cluster started: its processes are not ours to reap
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            site = SiteServer(generated_site(args.pages, filler=3)).start()
            try:
                print(f"\n(1) one session, {args.pages} pages, concurrency {CONCURRENCY} each")
                print(f"  {'':22} {'pages/s':>8} {'CPU ms/page':>12} {'db ms/page':>11}  done")
                for n in [int(x) for x in args.workers.split(",") if x.strip()]:
                    site.log.clear()
                    rate, client_ms, server_ms, done = crawl_with_workers(
                        server.new_database(), site, tmp, n, cpu
                    )
                    shown = "n/a" if server_ms is None else f"{server_ms:.2f}"
                    label = f"postgres, {n} process(es)"
                    print(
                        f"  {label:22} {rate:8.1f} {client_ms:12.2f} {shown:>11}  {done}",
                        flush=True,
                    )
                site.log.clear()
                rate, client_ms, done = crawl_sqlite(site, tmp)
                print(
                    f"  {'sqlite, 1 process':22} {rate:8.1f} {client_ms:12.2f} {'':>11}  {done}",
                    flush=True,
                )
                print(f"\n(2) claims/s from {args.rows:,} queued rows, batches of {BATCH}")
                figures = asyncio.run(
                    claims_per_second(server.new_database(), args.rows, args.claims)
                )
                for n, per_s in figures.items():
                    print(f"  {n} connection(s) {per_s:10.0f} claims/s", flush=True)
                print(
                    f"\n(3) a worker's claims crawled again by the others (lease {args.lease:g} s)"
                )
                for how in (signal.SIGKILL, signal.SIGSTOP):
                    back, held = claims_back_after(
                        server.new_database(), site, tmp, how, args.lease
                    )
                    print(f"  {how.name:8} {back:6.1f} s for the {held} claims it held", flush=True)
            finally:
                site.stop()
    finally:
        server.stop()
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
