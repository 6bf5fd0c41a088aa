"""Hazards of running pages in fetch worker processes, served over HTTP from 127.0.0.1.

Hostile HTML is time-bounded and the coordinator's loop never stalls (T19); what a worker
raises keeps its type across the pipe; a cancelled caller or a closed pool disturbs nothing
else; stored names never escape the blobs dir (T16); workers that cannot start fail the queue
(and are not started again and again); workers are forkserver children that hold none of the
coordinator's descriptors and never import from the current directory; a worker deep in a
hostile parse exits when its coordinator is killed.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from aiohttp import web

import tui_scraper
from tui_scraper.backends.sqlite.blobs import BLOBS_DIRNAME, BlobStore
from tui_scraper.engine import fetch_pool, fetch_worker
from tui_scraper.engine.fetch import FetchError
from tui_scraper.engine.fetch_pool import FetchPool, WorkerLost
from tui_scraper.engine.page_fetch import BodyRules, FetchedPage, FetchSettings, PageRequest
from tui_scraper.engine.parse import (
    PageJob,
    ParseTimeout,
    ParseWorkerUnavailable,
    process_page,
)
from tui_scraper.engine.urls import Scope

from .site import SiteServer
from .test_fetch_pool import assert_workers_die_with

DEADLINE = 2.0
NORMAL = (
    "<html><head><title>ok</title></head><body>"
    + "".join(f'<a href="/p{i}">p{i}</a> words ' for i in range(25))
    + "<p>text</p>" * 200
    + "</body></html>"
)
# Hostile shapes: each takes seconds to minutes in lexbor.
# lexbor/lexbor#340: n <b {i}>, then n <i {i}>, then n "x</b>"; n = 2000 is ~40 KB, ~8 s.
LEXBOR_340 = (
    "".join(f"<b {i}>" for i in range(2000))
    + "".join(f"<i {i}>" for i in range(2000))
    + "x</b>" * 2000
).encode()
NESTED_DIVS = ("<div>" * 100_000 + "x").encode()  # ~49 s
SELECT_16K = ("<select>" + "<option>o" * 16_000 + "</select>").encode()  # ~2.75 s
BINARY = bytes(range(256)) * 400 + os.urandom(50_000)
NUL_BAD_UTF8 = b"<html><title>a\x00b\xff\xfe\xc3\x28</title>" + b"\x00\xed\xa0\x80" * 10_000
# A page of nothing but links: its answer is the biggest the coordinator unpickles on its loop.
MANY_LINKS = "".join(f'<a href="/l{i}">l</a>' for i in range(50_000)).encode()
HOSTILE = {
    "lexbor-340": LEXBOR_340,
    "nested-100k": NESTED_DIVS,
    "select-16k": SELECT_16K,
    "binary": BINARY,
    "nul-invalid-utf8": NUL_BAD_UTF8,
    "many-links": MANY_LINKS,
}


def _html(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="text/html")


def _serving(body: bytes) -> object:
    def handler(_request: web.Request) -> web.Response:
        return _html(body)

    return handler


async def _hanging(_request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    raise AssertionError("not reached")


class _AnyPath(SiteServer):
    """Answers every path (decoded however the server decodes it) with a page naming it."""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.log.append(request.path_qs)
        return web.Response(text=NORMAL + request.path_qs, content_type="text/html")


@pytest.fixture
def server() -> Iterator[SiteServer]:
    extra = {f"/{name}": _serving(body) for name, body in HOSTILE.items()}
    extra["/hang"] = _hanging
    site = SiteServer({"/": NORMAL}, extra=extra).start()  # type: ignore[arg-type]
    yield site
    site.stop()


def _settings() -> FetchSettings:
    return FetchSettings(
        concurrency=32,
        user_agent="test",
        request_timeout=120.0,
        max_body_bytes=10 * 1024 * 1024,
        allow_private=True,
    )


def _rules(base: str) -> BodyRules:
    return BodyRules(scope=Scope.build(base + "/"), extract=(), download=())


def _pool(base: str, blobs: Path, *, workers: int = 1, deadline: float = DEADLINE) -> FetchPool:
    return FetchPool(
        workers=workers,
        settings=_settings(),
        rules=_rules(base),
        blobs=BlobStore(blobs),
        deadline=deadline,
    )


@asynccontextmanager
async def pool_of(
    base: str, blobs: Path, *, workers: int = 1, deadline: float = DEADLINE, ready: bool = True
) -> AsyncIterator[FetchPool]:
    pool = _pool(base, blobs, workers=workers, deadline=deadline)
    try:
        if ready:
            await asyncio.wait_for(pool.wait_ready(), 60)
        yield pool
    finally:
        await pool.aclose()


async def _no_hop(_url: str) -> str | None:
    return None


def _get(pool: FetchPool, url: str) -> asyncio.Future[FetchedPage]:
    return asyncio.ensure_future(pool.fetch(PageRequest(url, 0), _no_hop))


@contextmanager
def loop_lag() -> Iterator[list[float]]:
    """Record the worst delay of a 10 ms ticker on the running loop."""
    worst = [0.0]

    async def tick() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            worst[0] = max(worst[0], time.perf_counter() - before - 0.01)

    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield worst
    finally:
        task.cancel()


def _job(base: str, body: bytes, path: str = "/") -> PageJob:
    return PageJob(
        url=base + path,
        depth=0,
        body=body,
        charset="utf-8",
        is_html=True,
        rules=(),
        scope=Scope.build(base + "/"),
    )


# --------------------------------------------------------------------------------------------------
# T19: hostile HTML is time-bounded, and the coordinator's loop never stalls


async def test_hostile_html_is_time_bounded(server: SiteServer, tmp_path: Path) -> None:
    """Each page is done or ParseTimeout within deadline + 1 s; a stuck worker is replaced."""
    outcomes: dict[str, str] = {}
    async with pool_of(server.base, tmp_path / "blobs") as pool:
        with loop_lag() as worst:
            for name in HOSTILE:
                pids_before = pool.pids
                started = time.perf_counter()
                try:
                    fetched = await asyncio.wait_for(_get(pool, f"{server.base}/{name}"), 60)
                except ParseTimeout:
                    outcomes[name] = "timeout"
                    elapsed = time.perf_counter() - started
                    await asyncio.wait_for(pool.wait_ready(), 60)  # its replacement
                    assert pool.pids and pool.pids != pids_before
                else:
                    elapsed = time.perf_counter() - started
                    assert fetched.processed is not None, name
                    outcomes[name] = "done"
                assert elapsed < DEADLINE + 1.0, (name, elapsed)
            # the pool still works after all that
            fetched = await asyncio.wait_for(_get(pool, server.base + "/"), 60)
            assert fetched.processed is not None and fetched.processed.title == "ok"
        assert worst[0] < 0.1, f"event loop stalled {worst[0] * 1000:.0f} ms"
        assert pool.timeouts >= 2 and pool.crashes == 0
    assert outcomes["lexbor-340"] == "timeout"
    assert outcomes["nested-100k"] == "timeout"
    assert outcomes["binary"] == "done"
    assert outcomes["nul-invalid-utf8"] == "done"
    assert outcomes["many-links"] == "done"


async def test_requests_sent_with_a_hanging_page_are_only_lost(
    server: SiteServer, tmp_path: Path
) -> None:
    """Asked for before any worker runs, they all go to the one worker with the hostile page:
    only that page times out; the others are done, or lost (WorkerLost, never charged to the
    page) and done when asked again."""
    async with pool_of(server.base, tmp_path / "blobs", ready=False) as pool:
        hostile = _get(pool, server.base + "/lexbor-340")
        others = [_get(pool, f"{server.base}/?n={i}") for i in range(5)]
        with pytest.raises(ParseTimeout, match="lexbor-340"):
            await asyncio.wait_for(hostile, 60)
        results = await asyncio.gather(*others, return_exceptions=True)
        lost = [r for r in results if isinstance(r, WorkerLost)]
        assert all(isinstance(r, (FetchedPage, WorkerLost)) for r in results), results
        assert pool.lost == len(lost) and pool.timeouts == 1
        for i, result in enumerate(results):
            if isinstance(result, WorkerLost):
                again = await asyncio.wait_for(_get(pool, f"{server.base}/?n={i}"), 60)
                assert again.processed is not None and again.processed.title == "ok"


async def test_many_requests_at_once_equal_the_work_done_here(
    server: SiteServer, tmp_path: Path
) -> None:
    """Many answers leave a worker in one write: each still reaches its own caller, equal to
    processing the page in this process."""
    expected = process_page(_job(server.base, NORMAL.encode()))
    async with pool_of(server.base, tmp_path / "blobs", workers=2) as pool:
        with loop_lag() as worst:
            results = await asyncio.wait_for(
                asyncio.gather(*(_get(pool, server.base + "/") for _ in range(60))), 60
            )
        for fetched in results:
            processed = fetched.processed
            assert processed is not None
            assert (processed.title, processed.links, processed.fields) == (
                expected.title,
                expected.links,
                expected.fields,
            )
            assert processed.content_hash == expected.content_hash
        assert worst[0] < 0.1, f"event loop stalled {worst[0] * 1000:.0f} ms"


# --------------------------------------------------------------------------------------------------
# What a worker raises keeps its type; callers and close


class _Unpicklable(Exception):
    def __init__(self, a: str, b: str) -> None:  # pickling passes only args: loads fails
        super().__init__(f"{a} {b}")


async def test_exceptions_keep_their_type(server: SiteServer, tmp_path: Path) -> None:
    """An OSError from a blob write is our fault, not the page's: it stays an OSError (with its
    errno), and the worker that raised it answers the next page."""
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    async with pool_of(server.base, not_a_dir / BLOBS_DIRNAME) as pool:
        pids = pool.pids
        for path in ("/", "/?again"):
            with pytest.raises(OSError) as raised:
                await asyncio.wait_for(_get(pool, server.base + path), 60)
            assert raised.value.errno == errno.ENOTDIR
            assert not isinstance(raised.value, FetchError)
        assert pool.pids == pids and pool.crashes == pool.lost == 0


def test_an_exception_that_cannot_cross_a_pipe_is_told_as_a_parse_error() -> None:
    sent = fetch_worker.picklable(_Unpicklable("a", "b"))
    assert type(sent).__name__ == "ParseError" and "_Unpicklable: a b" in str(sent)
    kept = fetch_worker.picklable(OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(kept, OSError) and kept.errno == errno.ENOSPC


async def test_cancelled_caller_does_not_disturb_the_pool(
    server: SiteServer, tmp_path: Path
) -> None:
    """Callers cancelled while their request waits for a worker, and while it is in one."""
    async with pool_of(server.base, tmp_path / "blobs", ready=False) as pool:
        queued = [_get(pool, f"{server.base}/?q={i}") for i in range(10)]
        await asyncio.sleep(0)
        for task in queued[::2]:
            task.cancel()
        await asyncio.wait_for(pool.wait_ready(), 60)
        in_flight = [_get(pool, f"{server.base}/?f={i}") for i in range(10)]
        while not any(w.inflight for w in pool._live):
            await asyncio.sleep(0.01)
        for task in in_flight[::2]:
            task.cancel()
        done = await asyncio.wait_for(
            asyncio.gather(*queued, *in_flight, return_exceptions=True), 60
        )
        for result in done[1:10:2] + done[11::2]:
            assert isinstance(result, FetchedPage) and result.processed is not None, result
        assert all(isinstance(r, asyncio.CancelledError) for r in done[0:10:2] + done[10::2])
        fetched = await asyncio.wait_for(_get(pool, server.base + "/"), 60)
        assert fetched.processed is not None
        assert pool.lost == pool.crashes == 0 and all(not w.inflight for w in pool._live)


@pytest.mark.parametrize("busy", ["fetching", "parsing"])
async def test_aclose_stops_workers_and_refuses_work(
    busy: str, server: SiteServer, tmp_path: Path
) -> None:
    """Closed while a worker waits on a server that never answers, or is deep in a parse that
    would take a minute: both end within the close's grace time."""
    pool = _pool(server.base, tmp_path / "blobs", workers=2, deadline=600.0)
    await asyncio.wait_for(pool.wait_ready(), 60)
    procs = [w.proc for w in pool._live]
    if busy == "fetching":
        waiting = _get(pool, server.base + "/hang")
        while not any(w.inflight for w in pool._live):
            await asyncio.sleep(0.01)
    else:
        waiting = _get(pool, server.base + "/nested-100k")
        while not any(w.slot[0] for w in pool._live):
            await asyncio.sleep(0.01)
    await asyncio.wait_for(pool.aclose(), 10)
    with pytest.raises(WorkerLost):
        await asyncio.wait_for(waiting, 10)  # what was in flight is not left hanging
    assert all(not p.is_alive() for p in procs)
    with pytest.raises(WorkerLost, match="closed"):
        await pool.fetch(PageRequest(server.base + "/", 0), _no_hop)
    await pool.aclose()  # twice is fine


async def test_aclose_while_workers_start_leaves_none_running(
    server: SiteServer, tmp_path: Path
) -> None:
    pool = _pool(server.base, tmp_path / "blobs", workers=2)
    pool.start()
    waiting = _get(pool, server.base + "/")
    await asyncio.wait_for(pool.aclose(), 30)
    with pytest.raises(WorkerLost):
        await asyncio.wait_for(waiting, 10)
    assert pool.pids == [] and pool._spawning == 0


# --------------------------------------------------------------------------------------------------
# T16: stored names never escape, whatever the URL

HOSTILE_PATHS = [
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/..%2f..%2f..%2fx",
    "/a%00b",
    "/" + "n" * 300,
    "/..%5c..%5cwindows",
    "/?name=../../x&file=/etc/passwd",
]
_BLOB_NAME = re.compile(r"^[0-9a-f]{64}$")


async def test_storage_names_never_escape(tmp_path: Path) -> None:
    site = _AnyPath({}).start()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sibling = tmp_path / "outside"
    sibling.mkdir()
    before = set(tmp_path.rglob("*"))
    try:
        async with pool_of(site.base, data_dir / BLOBS_DIRNAME) as pool:
            results = [
                await asyncio.wait_for(_get(pool, site.base + path), 60) for path in HOSTILE_PATHS
            ]
    finally:
        site.stop()
    assert len(site.log) == len(HOSTILE_PATHS)  # each one was really asked for
    for fetched in results:
        processed = fetched.processed
        assert processed is not None and processed.storage_path is not None
        stored = (data_dir / processed.storage_path).resolve()
        assert stored.is_relative_to((data_dir / BLOBS_DIRNAME).resolve())
        assert Path(processed.storage_path).name == processed.content_hash
    files = [p for p in set(tmp_path.rglob("*")) - before if p.is_file()]
    assert len(files) == len(HOSTILE_PATHS)
    for path in files:
        assert path.is_relative_to(data_dir / BLOBS_DIRNAME)
        assert _BLOB_NAME.match(path.name), path
    assert not any(sibling.iterdir())


# --------------------------------------------------------------------------------------------------
# Workers that cannot start


def _die_at_start(*_args: object) -> None:
    os._exit(3)


def _no_descriptors(*_args: object) -> object:
    raise OSError(errno.EMFILE, "Too many open files")


@pytest.mark.parametrize("how", ["die at start", "cannot be started"])
async def test_workers_that_cannot_start_fail_the_queue(
    how: str, server: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken install or no descriptor left: the callers get ParseWorkerUnavailable (our fault,
    the crawl stops resumably) instead of hanging, and no worker is started again and again."""
    if how == "die at start":
        monkeypatch.setattr(fetch_worker, "worker_main", _die_at_start)
    else:
        monkeypatch.setattr(fetch_pool, "_start_process", _no_descriptors)
    async with pool_of(server.base, tmp_path / "blobs", ready=False) as pool:
        pages = [_get(pool, f"{server.base}/?{i}") for i in range(3)]
        for page in pages:
            with pytest.raises(ParseWorkerUnavailable, match="fetch worker"):
                await asyncio.wait_for(page, 60)
        if how == "die at start":
            assert pool.spawned >= 3
        # Nothing is left starting or running once the queue was failed: a next request starts
        # them again, and fails the same way.
        assert pool._spawning == 0 and pool.pids == []
        with pytest.raises(ParseWorkerUnavailable):
            await asyncio.wait_for(_get(pool, server.base + "/"), 60)
        await asyncio.wait_for(pool.wait_ready(), 60)  # returns: none could be started
        assert pool.pids == []


# --------------------------------------------------------------------------------------------------
# How workers are started


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rpartition(")")[2].split()[1])


def _open_files(pid: int) -> set[str]:
    names = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            names.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return names


async def test_workers_come_from_the_forkserver_never_fork(
    server: SiteServer, tmp_path: Path
) -> None:
    """A forked copy of an open SQLite connection corrupts the database: a worker must be a child
    of the forkserver, holding none of this process's files."""
    database = tmp_path / "open.db"
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE t (x)")
    try:
        async with pool_of(server.base, tmp_path / "blobs", workers=2) as pool:
            assert pool._ctx is not None and pool._ctx.get_start_method() == "forkserver"
            assert str(database) in _open_files(os.getpid())
            for pid in pool.pids:
                assert _parent_of(pid) != os.getpid()
                assert str(database) not in _open_files(pid)
            fetched = await asyncio.wait_for(_get(pool, server.base + "/"), 60)
            assert fetched.processed is not None
    finally:
        connection.close()


PROBE = """
import asyncio, os, sys
from pathlib import Path
from tui_scraper.backends.sqlite.blobs import BlobStore
from tui_scraper.engine.fetch_pool import FetchPool
from tui_scraper.engine.page_fetch import BodyRules, FetchSettings, PageRequest
from tui_scraper.engine.urls import Scope

async def no_hop(url):
    return None

async def main():
    base, blobs = sys.argv[1], Path(sys.argv[2])
    pool = FetchPool(workers=1, blobs=BlobStore(blobs),
        settings=FetchSettings(8, "test", 30.0, 1 << 20, True),
        rules=BodyRules(Scope.build(base + "/"), (), ()))
    try:
        fetched = await asyncio.wait_for(pool.fetch(PageRequest(base + "/", 0), no_hop), 60)
        print(fetched.processed.title, os.environ.get("PYTHONSAFEPATH"))
    finally:
        await pool.aclose()

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_workers_ignore_a_decoy_package_in_the_current_directory(
    server: SiteServer, tmp_path: Path
) -> None:
    """Started from a directory that holds another `tui_scraper` (a checkout of an older
    version), the workers still run this package: the forkserver's `python -c` must not import
    from the current directory (`child_processes.no_cwd_on_child_path`), and the setting does
    not outlive the start."""
    work = tmp_path / "work"
    decoy = work / "tui_scraper"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('decoy tui_scraper imported')\n")
    # A script elsewhere: its own sys.path starts at its directory, as an installed console
    # script's does; only a child started with `python -c` would look in the current directory.
    script = tmp_path / "probe" / "probe.py"
    script.parent.mkdir()
    script.write_text(PROBE)
    real_root = Path(tui_scraper.__file__).resolve().parent.parent
    run = subprocess.run(
        [sys.executable, str(script), server.base, str(tmp_path / "blobs")],
        cwd=work,
        env={"PYTHONPATH": str(real_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["ok", "None"], (run.stdout, run.stderr)


COORDINATOR = """
import asyncio, sys
from pathlib import Path
from tui_scraper.backends.sqlite.blobs import BlobStore
from tui_scraper.engine.fetch_pool import FetchPool
from tui_scraper.engine.page_fetch import BodyRules, FetchSettings, PageRequest
from tui_scraper.engine.urls import Scope

async def no_hop(url):
    return None

async def main():
    base, blobs = sys.argv[1], Path(sys.argv[2])
    pool = FetchPool(workers=1, blobs=BlobStore(blobs), deadline=600.0,
        settings=FetchSettings(8, "test", 600.0, 1 << 24, True),
        rules=BodyRules(Scope.build(base + "/"), (), ()))
    await pool.wait_ready()
    page = asyncio.ensure_future(pool.fetch(PageRequest(base + "/nested-100k", 0), no_hop))
    while not any(w.slot[0] for w in pool._live):
        await asyncio.sleep(0.01)
    print(*pool.pids, flush=True)
    await page

asyncio.run(main())
"""


def test_a_worker_deep_in_a_hostile_parse_exits_when_its_coordinator_is_killed(
    server: SiteServer, tmp_path: Path
) -> None:
    """The deadline is the coordinator's to enforce: killed outright (SIGKILL, the OOM killer),
    it must not leave a worker parsing for a minute."""
    child = subprocess.Popen(
        [sys.executable, "-c", COORDINATOR, server.base, str(tmp_path / "blobs")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert_workers_die_with(child, workers=1)
