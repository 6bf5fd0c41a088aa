"""The parse pool: worker processes that run `parse.process_page`, each page under a deadline.

Why a worker *process*: lexbor's parse time is super-linear on crafted shapes (see parse.py). A
thread keeps the loop responsive but cannot be stopped, so each page gets a deadline and a stuck
worker is killed and replaced. The process also puts the second core to work on hashing,
compression and parsing.

Workers are started with the forkserver method (spawn where it does not exist), never fork: the
parent holds SQLite connections, and a forked copy of those corrupts databases
(https://www.sqlite.org/howtocorrupt.html). The forkserver preloads this module (and so parse.py),
so a replacement worker after a kill is a cheap fork of a clean interpreter that already imported
selectolax.

Blobs: the pool is given the store's `BlobWriter` once; each worker receives it when it starts
(not with every page) and writes the blob of each page it processes.

IPC: each worker has its own pipe. When several pages are waiting, an idle worker receives them as
one batch (one pickle, one wakeup) and answers page by page, so the parent can time each page
separately. On a timeout the page being parsed fails with ParseTimeout, the worker is killed, and
the rest of its batch goes back to the front of the queue for the next worker: they never see the
kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import select
import signal
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from ..ports import BlobWriter
from . import parse
from .child_processes import enlarge_pipe, no_cwd_on_child_path, process_context, reap
from .parse import (
    PageJob,
    ParseCrashed,
    ParseError,
    ParseTimeout,
    ParseWorkerUnavailable,
    ProcessedPage,
)

__all__ = ["ParsePool"]

# Batching: enough pages per message to amortise the pipe round trip, few enough that a page is
# not held back long behind others in the same batch.
_MAX_BATCH = 8
_MAX_BATCH_BYTES = 4 * 1024 * 1024
_MAX_FAILED_STARTS = 3
# A page under which a worker died is retried this many times in a fresh worker before it fails.
_CRASH_RETRIES = 1
# A worker is replaced after this many pages so that allocator fragmentation from a few huge pages
# does not stay with it forever.
_MAX_PAGES_PER_WORKER = 20_000

# --------------------------------------------------------------------------------------------------
# The worker process


def _exit_when_the_parent_is_gone(jobs: Connection) -> None:
    """Exit at once when the parent's end of the job pipe closes (the parent died or closed the
    pool), even in the middle of a page: the per-page deadline is the parent's to enforce, so a
    parent killed outright (SIGKILL, the out-of-memory killer) would otherwise leave us parsing a
    hostile page for minutes, and keep the forkserver alive with us. lexbor releases the GIL
    while it parses, so this thread runs."""
    poller = select.poll()
    poller.register(jobs.fileno(), 0)  # POLLHUP, POLLERR and POLLNVAL come whatever is asked
    while True:
        for _fd, _event in poller.poll():
            os._exit(0)


def _worker_main(jobs: Connection, results: Connection, blobs: BlobWriter | None) -> None:
    """Loop of a worker: receive a batch, answer each page as soon as it is done."""
    # Ctrl-C goes to the whole foreground process group; the parent decides what happens to us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(select, "poll"):  # not on Windows: there a dead parent is noticed between pages
        threading.Thread(
            target=_exit_when_the_parent_is_gone, args=(jobs,), name="parent-watch", daemon=True
        ).start()
    # Say when we can take work: the parent's per-page deadline must not include our start-up
    # (importing modules can take seconds on a loaded machine).
    try:
        results.send(("ready", 0, None))
    except OSError:
        return  # the parent closed the pool while we started: nothing to say, nobody to hear
    while True:
        try:
            batch = jobs.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if batch is None:
            return
        for job_id, job in batch:
            try:
                reply: tuple[str, int, Any] = ("ok", job_id, parse.process_page(job, blobs))
            except Exception as exc:
                reply = ("err", job_id, _picklable(exc))
            try:
                results.send(reply)
            except OSError:
                return  # the parent went away (or killed the pool) mid-batch


def _picklable(exc: Exception) -> Exception:
    # The real exception type matters to the crawler (an OSError from a full disk is not a bad
    # page), so send it as it is when it survives pickling.
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return ParseError(f"{type(exc).__name__}: {exc}")
    return exc


def _start_process(
    ctx: BaseContext, blobs: BlobWriter | None
) -> tuple[BaseProcess, Connection, Connection]:
    """Start a worker; return it with the parent's ends: (jobs writer, results reader).

    Two one-way pipes rather than one duplex one: the parent's job end is made non-blocking so a
    big page never blocks the event loop while the worker is still starting up, and the result
    end stays blocking so Connection.recv can read whole messages.
    """
    jobs_r, jobs_w = ctx.Pipe(duplex=False)
    results_r, results_w = ctx.Pipe(duplex=False)
    proc = ctx.Process(  # type: ignore[attr-defined]
        target=_worker_main,
        args=(jobs_r, results_w, blobs),
        name="tui-scraper-parse",
        daemon=True,
    )
    with no_cwd_on_child_path():
        proc.start()
    jobs_r.close()
    results_w.close()
    os.set_blocking(jobs_w.fileno(), False)
    # A batch of ordinary pages is ~300 KB: with Linux's default 64 KB pipe it goes out in several
    # writes and loop wake-ups; 1 MiB (the default pipe-max-size) takes it in one. Best effort.
    enlarge_pipe(jobs_w.fileno())
    return proc, jobs_w, results_r


def _frame(payload: object) -> bytes:
    # The framing Connection.send_bytes uses (a 4-byte big-endian length), so the worker reads
    # our hand-written, non-blocking writes with a plain Connection.recv().
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("!i", len(data)) + data


# --------------------------------------------------------------------------------------------------
# The pool (event-loop side)


@dataclass(eq=False)
class _Task:
    id: int
    job: PageJob
    future: asyncio.Future[ProcessedPage]
    size: int
    requeued: int = 0
    crashes: int = 0  # workers that died under this very page


@dataclass(eq=False)
class _Worker:
    proc: BaseProcess
    jobs: Connection  # parent -> worker, non-blocking, written with os.write
    results: Connection  # worker -> parent
    batch: deque[_Task] = field(default_factory=deque)
    outgoing: memoryview | None = None  # the unwritten rest of the current batch message
    writing: bool = False  # an add_writer callback is registered
    timer: asyncio.TimerHandle | None = None
    pages: int = 0
    ready: bool = False  # the worker said it has started
    dead: bool = False


class ParsePool:
    """Process pages in `workers` processes with a per-page `deadline` (seconds).

    `workers=0` runs process_page in a thread (`asyncio.to_thread`) — for tests and debugging: the
    deadline still raises ParseTimeout, but the thread cannot be stopped and runs on.

    Errors: ParseTimeout (deadline) or ParseCrashed (worker died under the page), both
    ParseAbandoned; or the exception process_page raised (e.g. OSError from the blob write),
    re-raised with its own type; ParseError when the pool is closed.
    """

    def __init__(
        self, workers: int = 1, deadline: float = 10.0, *, blobs: BlobWriter | None = None
    ) -> None:
        if workers < 0:
            raise ValueError("workers must be >= 0")
        if deadline <= 0:
            raise ValueError("deadline must be positive")
        self.workers = workers
        self.deadline = deadline
        self.blobs = blobs  # None: pages are hashed, not stored
        self._queue: deque[_Task] = deque()
        self._live: list[_Worker] = []
        self._spawning = 0
        self._spawn_tasks: set[asyncio.Task[None]] = set()
        self._next_id = 0
        self._closed = False
        self._ctx: BaseContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Counters for the summary and for tests.
        self.timeouts = 0
        self.crashes = 0
        self.requeued = 0
        self.spawned = 0
        self._failed_starts = 0  # workers in a row that died before saying "ready"

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (tests check that a timeout replaces the worker)."""
        return [w.proc.pid for w in self._live if w.proc.pid is not None]

    async def start(self) -> None:
        """Start the workers now instead of on the first page (optional; waits until they run)."""
        self._loop = asyncio.get_running_loop()
        self._ensure_workers()
        while self._spawning or not all(w.ready for w in self._live):
            await asyncio.sleep(0.01)

    async def process(self, job: PageJob) -> ProcessedPage:
        if self._closed:
            raise ParseError("parse pool is closed")
        if self.workers == 0:
            try:
                return await asyncio.wait_for(
                    asyncio.to_thread(parse.process_page, job, self.blobs), self.deadline
                )
            except TimeoutError:
                self.timeouts += 1
                raise ParseTimeout(
                    f"parsing took longer than {self.deadline:g} s ({job.url})"
                ) from None
        loop = self._loop = asyncio.get_running_loop()
        self._next_id += 1
        task = _Task(self._next_id, job, loop.create_future(), len(job.body))
        self._queue.append(task)
        self._ensure_workers()
        self._dispatch()
        # If the caller is cancelled the future is cancelled too: a queued task is then skipped by
        # _dispatch, an in-flight one finishes and its result is dropped.
        return await task.future

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        error = ParseError("parse pool is closed")
        while self._queue:
            _fail(self._queue.popleft(), error)
        for spawn in list(self._spawn_tasks):
            with contextlib.suppress(BaseException):
                await spawn
        workers, self._live = self._live, []
        for worker in workers:
            half_written = worker.outgoing is not None
            self._detach(worker)
            while worker.batch:
                _fail(worker.batch.popleft(), error)
            # A polite "stop" (unless it would land inside a half-written batch); a worker busy
            # with a page is killed by _reap after the grace time.
            if not half_written:
                with contextlib.suppress(OSError):
                    os.write(worker.jobs.fileno(), _frame(None))
        if workers:
            await asyncio.gather(*(asyncio.to_thread(reap, w.proc, 1.0) for w in workers))
        for worker in workers:
            worker.jobs.close()
            worker.results.close()

    # -- workers ---------------------------------------------------------------------------------

    def _ensure_workers(self) -> None:
        while not self._closed and len(self._live) + self._spawning < self.workers:
            self._spawning += 1
            spawn = asyncio.get_running_loop().create_task(self._spawn_one())
            self._spawn_tasks.add(spawn)
            spawn.add_done_callback(self._spawn_tasks.discard)

    async def _spawn_one(self) -> None:
        try:
            if self._ctx is None:
                self._ctx = process_context()
            # Starting a process blocks (the first start also launches the forkserver): thread.
            proc, jobs, results = await asyncio.to_thread(_start_process, self._ctx, self.blobs)
        except BaseException as exc:
            self._spawning -= 1
            if not self._live and not self._spawning:
                # Nothing will ever serve the queue: fail it rather than hang the callers.
                failure = ParseWorkerUnavailable(f"cannot start a parse worker: {exc}")
                failure.__cause__ = exc
                while self._queue:
                    _fail(self._queue.popleft(), failure)
            if not isinstance(exc, Exception):
                raise
            return
        self._spawning -= 1
        self.spawned += 1
        worker = _Worker(proc, jobs, results)
        if self._closed:
            worker.dead = True
            await asyncio.to_thread(reap, proc, 0.0)
            jobs.close()
            results.close()
            return
        self._live.append(worker)
        asyncio.get_running_loop().add_reader(results.fileno(), self._on_readable, worker)
        self._dispatch()

    def _detach(self, worker: _Worker) -> None:
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        if not worker.dead:
            worker.dead = True
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(worker.results.fileno())
                if worker.writing:
                    with contextlib.suppress(ValueError, OSError):
                        loop.remove_writer(worker.jobs.fileno())
            worker.writing = False
            worker.outgoing = None

    def _retire(self, worker: _Worker, failure: BaseException | None) -> None:
        """Kill `worker`; fail its current page with `failure` (None: the page did not start and
        is retried too); put the rest of its batch back at the front of the queue."""
        self._detach(worker)
        if worker in self._live:
            self._live.remove(worker)
        if worker.batch and failure is not None:
            _fail(worker.batch.popleft(), failure)
        while worker.batch:
            task = worker.batch.pop()  # from the back: the front of the queue keeps batch order
            if not task.future.done():
                task.requeued += 1
                self.requeued += 1
                self._queue.appendleft(task)
        with contextlib.suppress(OSError):
            worker.proc.kill()
        worker.jobs.close()
        worker.results.close()
        # Reap it off the loop so no zombie is left behind.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.run_in_executor(None, reap, worker.proc, 0.0)
        if not self._closed and self._loop is not None:
            self._ensure_workers()
            self._dispatch()

    # -- dispatch and results --------------------------------------------------------------------

    def _dispatch(self) -> None:
        if self._closed:
            return
        idle = [w for w in self._live if w.ready and not w.batch and not w.dead]
        for index, worker in enumerate(idle):
            if not self._queue:
                return
            # Share what is queued among the idle workers, at most _MAX_BATCH each.
            share = -(-len(self._queue) // (len(idle) - index))
            batch: list[_Task] = []
            size = 0
            while self._queue and len(batch) < min(share, _MAX_BATCH):
                task = self._queue[0]
                if batch and size + task.size > _MAX_BATCH_BYTES:
                    break
                self._queue.popleft()
                if task.future.done():  # its caller gave up while it waited
                    continue
                batch.append(task)
                size += task.size
            if batch:
                self._send(worker, batch)

    def _send(self, worker: _Worker, batch: list[_Task]) -> None:
        worker.batch.extend(batch)
        worker.pages += len(batch)
        self._arm(worker)
        worker.outgoing = memoryview(_frame([(task.id, task.job) for task in batch]))
        self._flush(worker)

    def _flush(self, worker: _Worker) -> None:
        """Write as much of the pending message as the pipe takes; the loop calls back for more."""
        loop = self._loop
        assert loop is not None
        try:
            while worker.outgoing is not None and len(worker.outgoing):
                written = os.write(worker.jobs.fileno(), worker.outgoing)
                worker.outgoing = worker.outgoing[written:]
        except BlockingIOError:
            if not worker.writing:
                worker.writing = True
                loop.add_writer(worker.jobs.fileno(), self._flush, worker)
            return
        except OSError:
            if not worker.dead:
                # The worker died before it read its batch; nothing in it was started.
                self.crashes += 1
                self._retire(worker, None)
            return
        worker.outgoing = None
        if worker.writing:
            worker.writing = False
            loop.remove_writer(worker.jobs.fileno())

    def _arm(self, worker: _Worker) -> None:
        assert self._loop is not None
        if worker.timer is not None:
            worker.timer.cancel()
        worker.timer = self._loop.call_later(self.deadline, self._on_deadline, worker)

    def _on_deadline(self, worker: _Worker) -> None:
        worker.timer = None
        if worker.dead or not worker.batch:
            return
        self.timeouts += 1
        url = worker.batch[0].job.url
        self._retire(worker, ParseTimeout(f"parsing took longer than {self.deadline:g} s ({url})"))

    def _on_readable(self, worker: _Worker) -> None:
        try:
            while not worker.dead and worker.results.poll():
                kind, job_id, payload = worker.results.recv()
                if kind == "ready":
                    worker.ready = True
                    self._failed_starts = 0
                    self._dispatch()
                    continue
                task = worker.batch.popleft()
                if task.id != job_id:  # cannot happen with one ordered pipe; fail loudly if it does
                    raise RuntimeError(f"parse worker answered job {job_id}, expected {task.id}")
                if not task.future.done():
                    if kind == "ok":
                        task.future.set_result(payload)
                    else:
                        task.future.set_exception(payload)
                if worker.batch:
                    self._arm(worker)
                else:
                    if worker.timer is not None:
                        worker.timer.cancel()
                        worker.timer = None
                    if worker.pages >= _MAX_PAGES_PER_WORKER:
                        self._retire(worker, None)
                        return
                    self._dispatch()
        except (EOFError, OSError):
            if worker.dead:
                return
            if not worker.ready:
                # Dying before "ready" is about us, not a page (e.g. an import error in the child):
                # after a few in a row, fail the queue instead of respawning forever.
                self._failed_starts += 1
                if self._failed_starts >= _MAX_FAILED_STARTS:
                    failure = ParseWorkerUnavailable(
                        f"parse workers keep dying at start (exit {code_of(worker)})"
                    )
                    while self._queue:
                        _fail(self._queue.popleft(), failure)
                    self._detach(worker)
                    if worker in self._live:
                        self._live.remove(worker)
                    worker.jobs.close()
                    worker.results.close()
                    self._failed_starts = 0
                    return
            self.crashes += 1
            code = worker.proc.exitcode
            current = worker.batch[0] if worker.batch else None
            if current is not None and current.crashes < _CRASH_RETRIES:
                # A worker that dies (the OOM killer, a kill -9, a crash of ours) is our fault
                # until shown otherwise: the page is tried again in a fresh worker, and only a
                # page that kills a worker again is failed for good.
                current.crashes += 1
                self._retire(worker, None)
                return
            url = current.job.url if current is not None else "?"
            self._retire(
                worker, ParseCrashed(f"parse worker died (exit code {code}) while parsing {url}")
            )


def code_of(worker: _Worker) -> int | None:
    with contextlib.suppress(Exception):
        worker.proc.join(0.1)
    return worker.proc.exitcode


def _fail(task: _Task, error: BaseException) -> None:
    if not task.future.done():
        task.future.set_exception(error)
