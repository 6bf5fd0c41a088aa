"""The fetch pool: pages are fetched, parsed and stored in worker processes of their own; a body
never comes back; redirect hops are vetted by the coordinator; a parse past the deadline or a
worker's death costs only that page (its other requests go back untouched); workers exit when the
coordinator dies."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from tui_scraper.backends.sqlite.blobs import BlobStore
from tui_scraper.domain.records import DiscoveredLink, PageResult
from tui_scraper.domain.status import PageStatus
from tui_scraper.engine.fetch import FetchError
from tui_scraper.engine.fetch_pool import FetchPool, WorkerLost
from tui_scraper.engine.frames import FrameReader, encode
from tui_scraper.engine.known_links import CommittedLinks
from tui_scraper.engine.page_fetch import BodyRules, FetchSettings, PageRequest
from tui_scraper.engine.parse import (
    ParseCrashed,
    ParseTimeout,
)
from tui_scraper.engine.urls import Scope

from .site import SiteServer

LEXBOR_340 = (
    "".join(f"<b {i}>" for i in range(2000))
    + "".join(f"<i {i}>" for i in range(2000))
    + "x</b>" * 2000
)
NESTED_DIVS = "<div>" * 100_000 + "x"
PAGE = "<html><title>home</title><body>" + "".join(
    f'<a href="/p{i}.html">p{i}</a>' for i in range(5)
)


async def _slow(_request: web.Request) -> web.Response:
    await asyncio.sleep(3)
    return web.Response(text=PAGE, content_type="text/html")


def _redirect(_request: web.Request) -> web.Response:
    return web.Response(status=301, headers={"Location": "/"})


@pytest.fixture
def server() -> Iterator[SiteServer]:
    site = SiteServer(
        {"/": PAGE, "/hostile.html": LEXBOR_340, "/nested.html": NESTED_DIVS},
        extra={"/slow.html": _slow, "/old": _redirect},
    ).start()
    yield site
    site.stop()


def _settings() -> FetchSettings:
    return FetchSettings(
        concurrency=8,
        user_agent="test",
        request_timeout=60.0,
        max_body_bytes=10 * 1024 * 1024,
        allow_private=True,
    )


def _rules(base: str, exclude: tuple[str, ...] = ()) -> BodyRules:
    return BodyRules(scope=Scope.build(base + "/", exclude=exclude), extract=(), download=())


@asynccontextmanager
async def pool_of(
    base: str, tmp_path: Path, *, workers: int = 1, deadline: float = 10.0
) -> AsyncIterator[FetchPool]:
    pool = FetchPool(
        workers=workers,
        settings=_settings(),
        rules=_rules(base),
        blobs=BlobStore(tmp_path / "blobs"),
        deadline=deadline,
    )
    await pool.wait_ready()
    try:
        yield pool
    finally:
        await pool.aclose()


async def _no_hop(_url: str) -> str | None:
    return None


async def _parsing(pool: FetchPool) -> int:
    """The pid of the worker once it is parsing a page."""
    while True:
        for worker in pool._live:
            if worker.slot[0]:
                assert worker.proc.pid is not None
                return worker.proc.pid
        await asyncio.sleep(0.01)


async def test_a_page_is_fetched_parsed_and_stored_in_a_worker(
    server: SiteServer, tmp_path: Path
) -> None:
    async with pool_of(server.base, tmp_path, workers=2) as pool:
        assert len(set(pool.pids)) == 2 and os.getpid() not in pool.pids
        fetched = await pool.fetch(PageRequest(server.base + "/", 0), _no_hop)
        assert fetched.response.status_code == 200
        assert fetched.response.body is None  # the body stayed in the worker
        processed = fetched.processed
        assert processed is not None and processed.title == "home"
        assert [url for url, _depth in processed.links] == [
            f"{server.base}/p{i}.html" for i in range(5)
        ]
        assert processed.storage_path is not None
        stored = BlobStore(tmp_path / "blobs").read(processed.storage_path)
        assert stored == PAGE.encode()
        assert fetched.size == len(PAGE.encode())


async def test_redirect_hops_are_vetted_by_the_coordinator(
    server: SiteServer, tmp_path: Path
) -> None:
    asked: list[str] = []

    async def record(url: str) -> str | None:
        asked.append(url)
        return None

    async def known(url: str) -> str | None:
        return f"redirected to {url}, already done"

    async def robots(url: str) -> str | None:
        raise FetchError("robots", f"redirect to {url}: disallowed", transient=False)

    async with pool_of(server.base, tmp_path) as pool:
        fetched = await pool.fetch(PageRequest(server.base + "/old", 0), record)
        assert asked == [server.base + "/"]
        assert fetched.response.final_url == server.base + "/"
        assert fetched.response.redirects == [server.base + "/"]
        with pytest.raises(FetchError, match="already done") as refused:
            await pool.fetch(PageRequest(server.base + "/old", 0), known)
        assert refused.value.kind == "redirect" and not refused.value.transient
        with pytest.raises(FetchError, match="disallowed") as disallowed:
            await pool.fetch(PageRequest(server.base + "/old", 0), robots)
        assert disallowed.value.kind == "robots"
        assert disallowed.value.redirects == [server.base + "/"]


async def test_a_parse_past_the_deadline_fails_only_its_page(
    server: SiteServer, tmp_path: Path
) -> None:
    async with pool_of(server.base, tmp_path, deadline=1.0) as pool:
        (first,) = pool.pids
        waiting = asyncio.ensure_future(
            pool.fetch(PageRequest(server.base + "/slow.html", 0), _no_hop)
        )
        hostile = asyncio.ensure_future(
            pool.fetch(PageRequest(server.base + "/hostile.html", 0), _no_hop)
        )
        with pytest.raises(ParseTimeout, match="hostile"):
            await asyncio.wait_for(hostile, 30)
        # The slow page was in the same worker when it was killed: not its fault.
        with pytest.raises(WorkerLost):
            await asyncio.wait_for(waiting, 30)
        assert pool.timeouts == 1
        fetched = await asyncio.wait_for(pool.fetch(PageRequest(server.base + "/", 0), _no_hop), 30)
        assert fetched.processed is not None
        assert pool.pids and pool.pids != [first]


async def test_a_worker_killed_under_a_page_retries_it_once(
    server: SiteServer, tmp_path: Path
) -> None:
    async with pool_of(server.base, tmp_path, deadline=120.0) as pool:
        request = PageRequest(server.base + "/nested.html", 0)
        first = asyncio.ensure_future(pool.fetch(request, _no_hop))
        os.kill(await _parsing(pool), signal.SIGKILL)
        # A worker's death is our fault until shown otherwise: the page goes back untouched.
        with pytest.raises(WorkerLost):
            await asyncio.wait_for(first, 30)
        second = asyncio.ensure_future(pool.fetch(request, _no_hop))
        os.kill(await _parsing(pool), signal.SIGKILL)
        with pytest.raises(ParseCrashed, match="nested"):
            await asyncio.wait_for(second, 30)
        assert pool.crashes == 2
        fetched = await asyncio.wait_for(pool.fetch(PageRequest(server.base + "/", 0), _no_hop), 30)
        assert fetched.processed is not None


async def test_retuned_rules_reach_the_workers(server: SiteServer, tmp_path: Path) -> None:
    async with pool_of(server.base, tmp_path, workers=2) as pool:
        pool.retune(_rules(server.base, exclude=(r"/p[0-2]\.html",)))
        for _ in range(4):  # both workers
            fetched = await pool.fetch(PageRequest(server.base + "/", 0), _no_hop)
            assert fetched.processed is not None
            links = [url for url, _depth in fetched.processed.links]
            assert links == [f"{server.base}/p{i}.html" for i in (3, 4)]


def test_workers_exit_when_the_coordinator_is_killed(server: SiteServer, tmp_path: Path) -> None:
    script = (
        "import asyncio, os, sys\n"
        "from pathlib import Path\n"
        "from tui_scraper.backends.sqlite.blobs import BlobStore\n"
        "from tui_scraper.engine.fetch_pool import FetchPool\n"
        "from tui_scraper.engine.page_fetch import BodyRules, FetchSettings\n"
        "from tui_scraper.engine.urls import Scope\n"
        "async def main():\n"
        "    pool = FetchPool(workers=2, blobs=BlobStore(Path(sys.argv[1])),\n"
        "        settings=FetchSettings(8, 'test', 30.0, 1 << 20, True),\n"
        "        rules=BodyRules(Scope.build(sys.argv[2]), (), ()))\n"
        "    await pool.wait_ready()\n"
        "    print(*pool.pids, flush=True)\n"
        "    await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "blobs"), server.base + "/"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert_workers_die_with(child, workers=2)


def assert_workers_die_with(child: subprocess.Popen[str], *, workers: int) -> None:
    """`child` prints its fetch workers' pids on a line; SIGKILL it: they are gone within 10 s."""
    try:
        assert child.stdout is not None
        pids = [int(pid) for pid in child.stdout.readline().split()]
        assert len(pids) == workers
        child.kill()
        child.wait(10)
        deadline = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in pids if _alive(pid)]
            time.sleep(0.05)
        assert alive == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_a_fetch_error_keeps_everything_across_a_pipe() -> None:
    error = FetchError("http", "too many", transient=True, retry_after=30.0)
    error.redirects = ["http://a/1", "http://a/2"]
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.message, copy.transient, copy.retry_after, copy.redirects) == (
        "http",
        "too many",
        True,
        30.0,
        ["http://a/1", "http://a/2"],
    )


def test_frames_come_back_whole_however_the_bytes_are_cut() -> None:
    messages = [("fetch", i, "x" * (i * 37)) for i in range(20)]
    data = b"".join(encode(m) for m in messages)
    for step in (1, 3, 64, 1000, len(data)):
        reader = FrameReader()
        got: list[object] = []
        for start in range(0, len(data), step):
            got.extend(reader.feed(data[start : start + step]))
        assert got == messages


def _result(*urls: str) -> PageResult:
    result = PageResult(page_id=1, url="http://a/", status=PageStatus.DONE, attempts=1)
    result.links = [DiscoveredLink(url, 1, 1) for url in urls]
    return result


def test_committed_links_are_dropped_and_stay_bounded() -> None:
    known = CommittedLinks(cap=3)
    links = [("http://a/1", 1), ("http://a/2", 1)]
    assert known.unknown(links) == links  # nothing committed yet
    known.remember([_result("http://a/1")])
    assert known.unknown(links) == [("http://a/2", 1)]
    known.remember([_result("http://a/2", "http://a/3", "http://a/4", "http://a/5")])
    assert len(known) == 3  # past the cap, the rest simply go to the store again
    assert "http://a/1" in known


def test_an_answer_that_cannot_be_pickled_fails_its_page() -> None:
    """The worker's answer for a page is sent as a failure when it cannot cross the pipe, so
    the coordinator never waits for it forever."""
    from tui_scraper.engine import fetch_worker

    sent: list[tuple[object, ...]] = []

    class Worker(fetch_worker._Worker):
        def __init__(self) -> None:
            self._tasks = {}

        def _say(self, message: tuple[object, ...]) -> None:
            encode(message)  # what the real one does first: raises for what cannot be pickled
            sent.append(message)

    async def unpicklable(*_args: object, **_kwargs: object) -> object:
        return lambda: None

    worker = Worker()
    original = fetch_worker.fetch_page
    fetch_worker.fetch_page = unpicklable  # type: ignore[assignment]
    try:
        worker._parser = lambda _id: None  # type: ignore[method-assign]
        worker._hop_checker = lambda _id: None  # type: ignore[method-assign]
        worker._fetcher = worker._rules = worker._blobs = None  # type: ignore[assignment]
        asyncio.run(worker._fetch(7, PageRequest("http://a/", 0)))
    finally:
        fetch_worker.fetch_page = original
    assert [m[:2] for m in sent] == [("failed", 7)]
    assert "not sendable" in str(sent[0][2])


async def test_a_worker_fetches_robots_txt_for_the_coordinator(tmp_path: Path) -> None:
    # A redirect anywhere is followed (RFC 9309 §2.3.1.2) and the body is cut at the cap, not
    # refused: what robots.py asks of its source, answered by a worker's own Fetcher.
    rules = "User-agent: *\nDisallow: /private/\n" + "# padding\n" * 100

    def moved(_request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/elsewhere/rules.txt"})

    def served(_request: web.Request) -> web.Response:
        return web.Response(text=rules, content_type="application/octet-stream")

    site = SiteServer({}, extra={"/robots.txt": moved, "/elsewhere/rules.txt": served}).start()
    try:
        async with pool_of(site.base, tmp_path) as pool:
            response = await pool.fetch_robots(
                site.base + "/robots.txt", max_redirects=5, max_bytes=64
            )
            assert response.status_code == 200
            assert response.redirects == [site.base + "/elsewhere/rules.txt"]
            assert response.body == rules.encode()[:64] and response.truncated
            with pytest.raises(FetchError) as refused:
                await pool.fetch_robots(site.base + "/robots.txt", max_redirects=0, max_bytes=64)
            assert refused.value.kind == "redirect_limit"
    finally:
        site.stop()


async def test_a_robots_fetch_lost_with_its_worker_is_sent_again(tmp_path: Path) -> None:
    calls = 0

    async def robots(_request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(5)  # its worker is killed meanwhile
        return web.Response(text="User-agent: *\nDisallow: /x/\n", content_type="text/plain")

    site = SiteServer({}, extra={"/robots.txt": robots}).start()
    try:
        async with pool_of(site.base, tmp_path) as pool:
            (first,) = pool.pids
            fetch = asyncio.ensure_future(
                pool.fetch_robots(site.base + "/robots.txt", max_redirects=5, max_bytes=1024)
            )
            deadline = time.monotonic() + 30
            while not site.hits()["/robots.txt"]:
                assert time.monotonic() < deadline, "robots.txt never asked for"
                await asyncio.sleep(0.01)
            os.kill(first, signal.SIGKILL)
            response = await asyncio.wait_for(fetch, 30)
            assert (
                response.status_code == 200 and response.body == b"User-agent: *\nDisallow: /x/\n"
            )
            assert site.hits()["/robots.txt"] == 2 and pool.pids != [first]
    finally:
        site.stop()
