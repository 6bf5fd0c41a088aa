"""The fetch pool: worker processes that fetch, parse and store pages, each with its own loop.

Why: one event loop that fetches every page *and* ships each body to a parse process spends
most of a core on the HTTP client and on moving bodies about, and leaves the second core half
idle. Here the crawl's process (the coordinator) only claims, gates, judges and commits; each
worker process (`fetch_worker`) fetches its share of the requests concurrently, parses and
extracts each body and writes its blob, and sends back a small answer. A body never crosses a
process boundary. Requests go to the worker with the fewest in flight.

What stays with the coordinator: politeness (the host gate is held around the remote fetch, so
per-host limits and the rate are for the whole crawl), robots.txt's rules (a worker fetches the
file: `fetch_robots`), each redirect hop's check (the worker asks), retries and the frontier.
The coordinator builds no Fetcher and never loads the HTTP client or the parser. Each worker
keeps its own connections, DNS answers checked by the address policy, and cookie jar (a site's
cookies are per worker process, as they would be per browser).

Faults:
- a parse longer than the deadline: the worker is killed (its shared parse slot says what it is
  parsing and since when), that page fails with ParseTimeout;
- a worker that dies (the OOM killer, a crash): the page it was parsing is tried once more and
  fails with ParseCrashed if it kills a worker again;
- every other request the lost worker had in flight fails with WorkerLost: not the page's fault,
  it goes back to the queue untouched;
- workers that cannot start, or keep dying with no answer in between: ParseWorkerUnavailable,
  our fault, which stops the crawl resumably.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, Final

from ..ports import BlobWriter
from . import fetch_worker
from .child_processes import enlarge_pipe, no_cwd_on_child_path, process_context, reap
from .fetch_types import FetchError, FetchResponse
from .frames import FrameReader, encode
from .page_fetch import BodyRules, FetchedPage, FetchSettings, HopCheck, PageRequest
from .page_types import ParseCrashed, ParseTimeout, ParseWorkerUnavailable

__all__ = ["FetchPool", "WorkerLost"]

_READ_BYTES = 1024 * 1024
_WATCH_S = 0.25  # how often the parse slots are looked at
_MAX_FAILED_STARTS = 3
_MAX_DEATHS_WITHOUT_ANSWER = 10
# A page under which a worker died is tried this many times more before it fails.
_CRASH_RETRIES = 1
# A robots.txt request lost with its worker (killed for another page's parse) is sent again up to
# this many times in all; then WorkerLost reaches the page that asked, which goes back untouched.
_ROBOTS_TRIES: Final = 3


class WorkerLost(Exception):
    """The worker running this request died, or was killed for another page's sake: the page did
    nothing wrong and goes back to the queue untouched."""


@dataclass(eq=False)
class _Request:
    id: int
    request: PageRequest
    hop_check: HopCheck
    future: asyncio.Future[Any]  # a FetchedPage; a FetchResponse for a robots.txt
    robots: tuple[int, int] | None = None  # a robots.txt: (max_redirects, max_bytes)


@dataclass(eq=False)
class _Worker:
    proc: BaseProcess
    requests: Connection  # coordinator -> worker, non-blocking
    answers: Connection  # worker -> coordinator, non-blocking
    slot: Any  # the shared parse slot (fetch_worker.SLOT_FIELDS doubles)
    inflight: dict[int, _Request] = field(default_factory=dict)
    outgoing: bytearray = field(default_factory=bytearray)
    flush_scheduled: bool = False
    writing: bool = False  # an add_writer callback is registered
    reader: FrameReader = field(default_factory=FrameReader)
    ready: bool = False
    dead: bool = False


class FetchPool:
    """Fetch and process pages in `workers` processes (see the module doc). Not thread-safe."""

    def __init__(
        self,
        *,
        workers: int,
        settings: FetchSettings,
        rules: BodyRules,
        blobs: BlobWriter,
        deadline: float = 10.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if deadline <= 0:
            raise ValueError("deadline must be positive")
        self.workers = workers
        self.deadline = deadline
        self._settings = settings
        self._rules = rules
        self._blobs = blobs
        self._ctx: BaseContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live: list[_Worker] = []
        self._pending: deque[_Request] = deque()
        self._spawning = 0
        self._spawn_tasks: set[asyncio.Task[None]] = set()
        self._hop_tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.TimerHandle | None = None
        self._next_id = 0
        self._closed = False
        self._failed_starts = 0  # workers in a row that died before saying "ready"
        self._deaths_without_answer = 0
        # Set when the queue was failed because workers keep dying: none is started again until
        # the next request asks (a crawl stopping on it must not fork dying workers meanwhile).
        self._given_up = False
        self._crashes_by_url: dict[str, int] = {}
        # Set when no worker can be started: every request from then on fails with it.
        self.unavailable: ParseWorkerUnavailable | None = None
        # Counters for the summary and for tests.
        self.timeouts = 0
        self.crashes = 0
        self.lost = 0
        self.spawned = 0

    @property
    def ready(self) -> bool:
        """A worker has started and takes requests."""
        return any(w.ready and not w.dead for w in self._live)

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._live if w.proc.pid is not None]

    def start(self) -> None:
        """Start the workers now rather than on the first request (they import while the crawl
        gets ready)."""
        self._loop = asyncio.get_running_loop()
        self._given_up = False
        self._ensure_workers()

    async def wait_ready(self) -> None:
        """Until every worker said it runs, or none can be started (tests)."""
        self.start()
        while self._spawning or not all(w.ready for w in self._live) or not self._live:
            if self._closed or self._given_up or not (self._live or self._spawning):
                return
            await asyncio.sleep(0.01)

    async def fetch(self, request: PageRequest, hop_check: HopCheck) -> FetchedPage:
        page: FetchedPage = await self._submit(request, hop_check, None)
        return page

    async def _submit(
        self, request: PageRequest, hop_check: HopCheck, robots: tuple[int, int] | None
    ) -> Any:
        if self._closed:
            raise WorkerLost("the fetch pool is closed")
        if self.unavailable is not None and not self._live and not self._spawning:
            raise self.unavailable
        loop = self._loop = asyncio.get_running_loop()
        self._next_id += 1
        pending = _Request(self._next_id, request, hop_check, loop.create_future(), robots)
        self._pending.append(pending)
        self._given_up = False
        self._ensure_workers()
        self._dispatch()
        # A cancelled caller cancels the future: a queued request is then skipped by _dispatch,
        # one in flight finishes in its worker and the answer is dropped.
        return await pending.future

    async def fetch_robots(self, url: str, *, max_redirects: int, max_bytes: int) -> FetchResponse:
        """A robots.txt fetched by a worker with its Fetcher (`robots.RobotsSource`). Raises
        FetchError; WorkerLost, or ParseWorkerUnavailable when no worker can be started, as a
        page's fetch would."""
        tries = 0
        while True:
            tries += 1
            try:
                response: FetchResponse = await self._submit(
                    PageRequest(url, 0), _no_hops, (max_redirects, max_bytes)
                )
                return response
            except WorkerLost:
                if self.unavailable is not None:
                    # Workers keep dying with no answer: the pages waiting for this file are
                    # the only requests, so this is where the crawl learns it must stop.
                    raise self.unavailable from None
                if self._closed or tries >= _ROBOTS_TRIES:
                    raise

    def retune(self, rules: BodyRules) -> None:
        """New scope or patterns (live tuning): for every request sent from now on."""
        self._rules = rules
        for worker in self._live:
            self._say(worker, ("rules", rules))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        lost = WorkerLost("the fetch pool is closed")
        while self._pending:
            _fail(self._pending.popleft(), lost)
        for spawn in list(self._spawn_tasks):
            with contextlib.suppress(BaseException):
                await spawn
        for hop in list(self._hop_tasks):
            hop.cancel()
        workers, self._live = self._live, []
        for worker in workers:
            for pending in worker.inflight.values():
                _fail(pending, lost)
            worker.inflight.clear()
            self._detach(worker)
            with contextlib.suppress(OSError):
                os.write(worker.requests.fileno(), encode(("stop",)))
        if workers:
            await asyncio.gather(*(asyncio.to_thread(reap, w.proc, 1.0) for w in workers))
        for worker in workers:
            worker.requests.close()
            worker.answers.close()

    # -- workers -----------------------------------------------------------------------------

    def _ensure_workers(self) -> None:
        loop = asyncio.get_running_loop()
        while (
            not self._closed
            and not self._given_up
            and len(self._live) + self._spawning < self.workers
        ):
            self._spawning += 1
            spawn = loop.create_task(self._spawn_one())
            self._spawn_tasks.add(spawn)
            spawn.add_done_callback(self._spawn_tasks.discard)
        if self._watch is None and not self._closed:
            self._watch = loop.call_later(_WATCH_S, self._on_watch)

    async def _spawn_one(self) -> None:
        try:
            if self._ctx is None:
                # Every worker unpickles the blob writer: its module is shared when preloaded.
                self._ctx = process_context(preload=[type(self._blobs).__module__])
            # Starting a process blocks (the first start also launches the forkserver): thread.
            started = await asyncio.to_thread(
                _start_process, self._ctx, self._settings, self._rules, self._blobs
            )
        except BaseException as exc:
            self._spawning -= 1
            if not self._live and not self._spawning:
                self._fail_all(ParseWorkerUnavailable(f"cannot start a fetch worker: {exc}"), exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._spawning -= 1
        self.spawned += 1
        worker = _Worker(*started)
        self.unavailable = None
        if self._closed:
            worker.dead = True
            await asyncio.to_thread(reap, worker.proc, 0.0)
            worker.requests.close()
            worker.answers.close()
            return
        self._live.append(worker)
        asyncio.get_running_loop().add_reader(worker.answers.fileno(), self._on_readable, worker)

    def _fail_all(
        self, failure: ParseWorkerUnavailable, cause: BaseException | None = None
    ) -> None:
        """Nothing will serve the queue: fail it rather than hang the callers."""
        failure.__cause__ = cause
        self.unavailable = failure
        while self._pending:
            _fail(self._pending.popleft(), failure)

    def _detach(self, worker: _Worker) -> None:
        if worker.dead:
            return
        worker.dead = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(worker.answers.fileno())
            if worker.writing:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_writer(worker.requests.fileno())
        worker.writing = False
        worker.outgoing.clear()

    def _lose(self, worker: _Worker, *, timed_out: int | None = None) -> None:
        """Kill `worker` and settle what it had in flight (see the module doc)."""
        if worker.dead:
            return
        current = timed_out if timed_out is not None else int(worker.slot[0])
        self._detach(worker)
        if worker in self._live:
            self._live.remove(worker)
        with contextlib.suppress(OSError):
            worker.proc.kill()
        worker.requests.close()
        worker.answers.close()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # No zombie left behind. A thread that cannot start (no memory) must not stop this
            # call before the requests below are settled: their callers would wait forever.
            with contextlib.suppress(RuntimeError):
                loop.run_in_executor(None, reap, worker.proc, 0.0)
        if not worker.ready:
            # Dying before "ready" is about us, not a page (an import error in the child, no
            # memory): after a few in a row, fail the queue instead of respawning forever.
            self._failed_starts += 1
            if self._failed_starts >= _MAX_FAILED_STARTS:
                self._failed_starts = 0
                self._given_up = True
                self._fail_all(ParseWorkerUnavailable("fetch workers keep dying at start"))
        elif timed_out is None:
            self.crashes += 1
            self._deaths_without_answer += 1
        requests, worker.inflight = worker.inflight, {}
        for pending in requests.values():
            _fail(pending, self._verdict_for(pending, current, timed_out is not None))
        if self._deaths_without_answer >= _MAX_DEATHS_WITHOUT_ANSWER:
            self._deaths_without_answer = 0
            self._given_up = True
            self._fail_all(ParseWorkerUnavailable("fetch workers keep dying"))
        if not self._closed:
            self._ensure_workers()
            self._dispatch()

    def _verdict_for(self, pending: _Request, current: int, timed_out: bool) -> BaseException:
        url = pending.request.url
        if pending.id != current:
            self.lost += 1
            return WorkerLost(f"its fetch worker was lost while fetching {url}")
        if timed_out:
            return ParseTimeout(f"parsing took longer than {self.deadline:g} s ({url})")
        crashes = self._crashes_by_url.get(url, 0) + 1
        self._crashes_by_url[url] = crashes
        if crashes > _CRASH_RETRIES:
            return ParseCrashed(f"fetch worker died while parsing {url}")
        self.lost += 1
        return WorkerLost(f"its fetch worker died while parsing {url}")

    def _on_watch(self) -> None:
        """A worker parsing one page for longer than the deadline is killed."""
        self._watch = None
        if self._closed:
            return
        now = time.monotonic()
        for worker in list(self._live):
            slot = worker.slot
            current = slot[0]
            if current and now - slot[1] > self.deadline and slot[0] == current:
                self.timeouts += 1
                self._lose(worker, timed_out=int(current))
        if self._live or self._spawning:
            self._watch = asyncio.get_running_loop().call_later(_WATCH_S, self._on_watch)

    # -- requests and answers ----------------------------------------------------------------

    def _dispatch(self) -> None:
        ready = [w for w in self._live if w.ready and not w.dead]
        if not ready:
            return
        while self._pending:
            pending = self._pending.popleft()
            if pending.future.done():  # its caller gave up while it waited
                continue
            worker = min(ready, key=lambda w: len(w.inflight))
            worker.inflight[pending.id] = pending
            if pending.robots is None:
                self._say(worker, ("fetch", pending.id, pending.request))
            else:
                self._say(worker, ("robots", pending.id, pending.request.url, *pending.robots))

    def _say(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        """Queue a message; all queued in one turn of the loop leave in one write."""
        if worker.dead:
            return
        worker.outgoing += encode(message)
        if not worker.flush_scheduled and not worker.writing:
            worker.flush_scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._flush, worker)

    def _flush(self, worker: _Worker) -> None:
        worker.flush_scheduled = False
        if worker.dead:
            return
        loop = self._loop
        assert loop is not None
        try:
            while worker.outgoing:
                written = os.write(worker.requests.fileno(), worker.outgoing)
                del worker.outgoing[:written]
        except BlockingIOError:
            if not worker.writing:
                worker.writing = True
                loop.add_writer(worker.requests.fileno(), self._flush, worker)
            return
        except OSError:
            self._lose(worker)
            return
        if worker.writing:
            worker.writing = False
            loop.remove_writer(worker.requests.fileno())

    def _on_readable(self, worker: _Worker) -> None:
        messages: list[Any] = []
        try:
            while True:
                data = os.read(worker.answers.fileno(), _READ_BYTES)
                if not data:
                    break
                messages.extend(worker.reader.feed(data))
                if len(data) < _READ_BYTES:
                    break
        except BlockingIOError:
            data = b"-"
        except OSError:
            data = b""
        for message in messages:
            self._handle(worker, message)
        if not data and not worker.dead:
            self._lose(worker)

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "done" or kind == "failed":
            pending = worker.inflight.pop(message[1], None)
            self._deaths_without_answer = 0
            if pending is not None and not pending.future.done():
                if kind == "done":
                    pending.future.set_result(message[2])
                else:
                    pending.future.set_exception(message[2])
        elif kind == "hop":
            _, request_id, hop_id, url = message
            pending = worker.inflight.get(request_id)
            if pending is not None:
                hop = asyncio.get_running_loop().create_task(
                    self._answer_hop(worker, pending, hop_id, url)
                )
                self._hop_tasks.add(hop)
                hop.add_done_callback(self._hop_tasks.discard)
        elif kind == "ready":
            worker.ready = True
            self._failed_starts = 0
            self._dispatch()

    async def _answer_hop(self, worker: _Worker, pending: _Request, hop_id: int, url: str) -> None:
        verdict: tuple[str, Any]
        try:
            verdict = ("ok", await pending.hop_check(url))
        except asyncio.CancelledError:
            raise
        except FetchError as exc:
            verdict = ("raise", exc)
        except Exception as exc:  # e.g. the store could not be read: the fetch fails with it
            verdict = ("raise", fetch_worker.picklable(exc))
        if not worker.dead and pending.id in worker.inflight:
            self._say(worker, ("hop", hop_id, verdict))


def _start_process(
    ctx: BaseContext, settings: FetchSettings, rules: BodyRules, blobs: BlobWriter
) -> tuple[BaseProcess, Connection, Connection, Any]:
    """Start a worker; return it with the coordinator's ends of its pipes and its parse slot."""
    requests_r, requests_w = ctx.Pipe(duplex=False)
    answers_r, answers_w = ctx.Pipe(duplex=False)
    slot = fetch_worker.shared_slot(ctx)
    proc = ctx.Process(  # type: ignore[attr-defined]
        target=fetch_worker.worker_main,
        args=(requests_r, answers_w, settings, rules, blobs, slot),
        name="tui-scraper-fetch",
        daemon=True,
    )
    with no_cwd_on_child_path():
        proc.start()
    requests_r.close()
    answers_w.close()
    os.set_blocking(requests_w.fileno(), False)
    os.set_blocking(answers_r.fileno(), False)
    enlarge_pipe(requests_w.fileno())
    enlarge_pipe(answers_r.fileno())
    return proc, requests_w, answers_r, slot


async def _no_hops(url: str) -> str | None:
    return None  # a robots.txt's hops are the worker's Fetcher's to check


def _fail(pending: _Request, error: BaseException) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)
