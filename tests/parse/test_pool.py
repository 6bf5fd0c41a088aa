"""The worker pool: hostile HTML is time-bounded (T19), the loop never stalls, a stuck worker is
replaced, its other pages are retried transparently, and stored blobs have hash names only (T16)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite.blobs import BLOBS_DIRNAME, BlobStore
from tui_scraper.domain import ExtractRule
from tui_scraper.engine import parse, parse_pool
from tui_scraper.engine.parse import (
    PageJob,
    ParseAbandoned,
    ParseCrashed,
    ParseError,
    ParseTimeout,
    ProcessedPage,
    process_page,
)
from tui_scraper.engine.parse_pool import ParsePool
from tui_scraper.engine.urls import Scope
from tui_scraper.ports import BlobWriter

SCOPE = Scope.build("http://example.com/")
DEADLINE = 2.0
NORMAL = (
    "<html><head><title>ok</title></head><body>"
    + "".join(f'<a href="/p{i}">p{i}</a> words ' for i in range(25))
    + "<p>text</p>" * 200
    + "</body></html>"
).encode()

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


def make_job(body: bytes, url: str = "http://example.com/", **kw: object) -> PageJob:
    fields: dict[str, object] = {
        "url": url,
        "depth": 0,
        "body": body,
        "charset": None,
        "is_html": True,
        "rules": (),
        "scope": SCOPE,
    }
    fields.update(kw)
    return PageJob(**fields)  # type: ignore[arg-type]


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


@asynccontextmanager
async def pool_of(
    workers: int = 1, deadline: float = DEADLINE, blobs: BlobWriter | None = None
) -> AsyncIterator[ParsePool]:
    pool = ParsePool(workers=workers, deadline=deadline, blobs=blobs)
    try:
        yield pool
    finally:
        await pool.aclose()


async def test_pool_result_equals_in_process() -> None:
    job = make_job(NORMAL, rules=(ExtractRule.parse("p=p"),))
    expected = process_page(job)
    async with pool_of(workers=2) as pool:
        results = await asyncio.gather(*(pool.process(job) for _ in range(40)))
        assert all(r == expected for r in results)
        assert len(pool.pids) == 2
        assert pool.timeouts == pool.crashes == pool.requeued == 0


async def test_in_process_mode() -> None:
    async with pool_of(workers=0) as pool:
        result = await pool.process(make_job(NORMAL))
        assert result.title == "ok"
        assert pool.pids == []


async def test_in_process_mode_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(job: PageJob, blobs: BlobWriter | None = None) -> ProcessedPage:
        time.sleep(0.5)
        raise AssertionError("not reached in time")

    monkeypatch.setattr(parse, "process_page", slow)
    async with pool_of(workers=0, deadline=0.1) as pool:
        with pytest.raises(ParseTimeout):
            await pool.process(make_job(NORMAL))


HOSTILE = {
    "lexbor-340": LEXBOR_340,
    "nested-100k": NESTED_DIVS,
    "select-16k": SELECT_16K,
    "binary": BINARY,
    "nul-invalid-utf8": NUL_BAD_UTF8,
}


async def test_hostile_html_is_time_bounded() -> None:
    """T19: each page is done or ParseTimeout within deadline + 1 s; the loop never stalls."""
    async with pool_of(workers=1) as pool:
        await pool.start()
        outcomes: dict[str, str] = {}
        with loop_lag() as worst:
            for name, body in HOSTILE.items():
                pids_before = pool.pids
                started = time.perf_counter()
                try:
                    await pool.process(make_job(body))
                    outcomes[name] = "done"
                except ParseAbandoned as exc:
                    outcomes[name] = "timeout" if isinstance(exc, ParseTimeout) else "crashed"
                    # the stuck worker was killed and a fresh one started
                    await pool.start()
                    assert pool.pids and pool.pids != pids_before
                elapsed = time.perf_counter() - started
                assert elapsed < DEADLINE + 1.0, (name, elapsed)
            # the pool still works after all that
            assert (await pool.process(make_job(NORMAL))).title == "ok"
        assert worst[0] < 0.1, f"event loop stalled {worst[0] * 1000:.0f} ms"
    print(outcomes)
    assert outcomes["lexbor-340"] == "timeout"
    assert outcomes["nested-100k"] == "timeout"
    assert outcomes["binary"] == "done"
    assert outcomes["nul-invalid-utf8"] == "done"
    assert pool.timeouts >= 2


async def test_batch_mates_of_a_timed_out_page_are_retried() -> None:
    """Pages sent in the same batch as a hanging page are not failed with it."""
    async with pool_of(workers=1) as pool:
        # Queue everything before the worker exists so it all goes out as one batch.
        jobs = [make_job(LEXBOR_340, url="http://example.com/hang")] + [
            make_job(NORMAL, url=f"http://example.com/n{i}") for i in range(5)
        ]
        results = await asyncio.gather(*(pool.process(j) for j in jobs), return_exceptions=True)
        assert isinstance(results[0], ParseTimeout)
        assert "http://example.com/hang" in str(results[0])
        assert all(isinstance(r, ProcessedPage) and r.title == "ok" for r in results[1:])
        assert pool.requeued == 5
        assert pool.timeouts == 1


async def _kill_worker_under_a_page(pool: ParsePool) -> int:
    """SIGKILL the worker once it holds a page, as the OOM killer would; returns its pid."""
    while not any(w.batch and w.outgoing is None for w in pool._live):
        await asyncio.sleep(0.01)
    (pid,) = pool.pids
    os.kill(pid, signal.SIGKILL)
    return pid


async def test_killed_worker_retries_its_page_once_in_a_fresh_worker() -> None:
    async with pool_of(workers=1, deadline=30) as pool:
        await pool.start()
        page = asyncio.ensure_future(pool.process(make_job(SELECT_16K)))
        first = await _kill_worker_under_a_page(pool)
        # A worker's death is our fault until shown otherwise: the page succeeds in a new one.
        result = await asyncio.wait_for(page, 30)
        assert isinstance(result, ProcessedPage)
        assert pool.crashes == 1
        assert pool.pids != [first]


async def test_page_that_kills_two_workers_fails_only_itself() -> None:
    async with pool_of(workers=1, deadline=60) as pool:
        await pool.start()
        hanging = asyncio.ensure_future(pool.process(make_job(NESTED_DIVS)))
        first = await _kill_worker_under_a_page(pool)
        while pool.pids in ([], [first]):  # the retry is running in a fresh worker
            await asyncio.sleep(0.01)
        await _kill_worker_under_a_page(pool)
        with pytest.raises(ParseCrashed, match="died") as crashed:
            await asyncio.wait_for(hanging, 10)
        # A crash is not a timeout (the crawler records them apart); both are abandoned pages.
        assert not isinstance(crashed.value, ParseTimeout)
        assert isinstance(crashed.value, ParseAbandoned)
        assert (await pool.process(make_job(NORMAL))).title == "ok"
        assert pool.crashes == 2


async def test_exceptions_keep_their_type(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    async with pool_of(workers=1, blobs=BlobStore(not_a_dir / BLOBS_DIRNAME)) as pool:
        with pytest.raises(OSError):
            await pool.process(make_job(NORMAL))
        pids = pool.pids
        # the worker survived an ordinary exception: the same one answers the next page
        with pytest.raises(OSError):
            await pool.process(make_job(NORMAL + b"<p>another</p>"))
        assert pool.pids == pids and pool.crashes == 0


async def test_cancelled_caller_does_not_disturb_the_pool() -> None:
    async with pool_of(workers=1) as pool:
        await pool.start()
        tasks = [asyncio.ensure_future(pool.process(make_job(NORMAL))) for _ in range(20)]
        await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, ProcessedPage) for r in done[1::2])
        assert (await pool.process(make_job(NORMAL))).title == "ok"


async def test_aclose_stops_workers_and_refuses_work() -> None:
    pool = ParsePool(workers=2)
    await pool.start()
    procs = [w.proc for w in pool._live]
    await pool.aclose()
    assert all(not p.is_alive() for p in procs)
    with pytest.raises(ParseError):
        await pool.process(make_job(NORMAL))
    await pool.aclose()  # twice is fine


# --------------------------------------------------------------------------------------------------
# T16: storage names never escape, whatever the URL

HOSTILE_URLS = [
    "http://example.com/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "http://example.com/..%2f..%2f..%2fx",
    "http://example.com/a%00b",
    "http://example.com/" + "n" * 300,
    "http://example.com/..\\..\\windows",
    "http://example.com/?name=../../x&file=/etc/passwd",
]
_BLOB_NAME = re.compile(r"^[0-9a-f]{64}(\.[a-z0-9]{1,5})?$")


async def test_storage_names_never_escape(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sibling = tmp_path / "outside"
    sibling.mkdir()
    before = set(tmp_path.rglob("*"))
    async with pool_of(workers=1, blobs=BlobStore(data_dir / BLOBS_DIRNAME)) as pool:
        results = [
            await pool.process(make_job(NORMAL + url.encode(), url=url)) for url in HOSTILE_URLS
        ]
    for result in results:
        assert result.storage_path is not None
        assert (data_dir / result.storage_path).resolve().is_relative_to(data_dir.resolve())
        assert Path(result.storage_path).name == result.content_hash
    new = set(tmp_path.rglob("*")) - before
    files = [p for p in new if p.is_file()]
    assert len(files) == len(HOSTILE_URLS)
    for path in files:
        assert path.is_relative_to(data_dir / "blobs")
        assert _BLOB_NAME.match(path.name), path
    assert not any(sibling.iterdir())


async def test_workers_that_cannot_start_fail_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that dies before it is ready (broken install) must not respawn forever."""
    monkeypatch.setattr(parse_pool, "_worker_main", _die_at_start)
    async with pool_of(workers=1) as pool:
        with pytest.raises(ParseError, match="keep dying"):
            await asyncio.wait_for(pool.process(make_job(NORMAL)), 30)
        assert pool.spawned >= 3


def _die_at_start(jobs: object, results: object, blobs: object) -> None:
    os._exit(3)
