"""A fetch worker process: its own event loop fetches pages, parses them and writes their blobs.

The crawl's process (the coordinator, `fetch_pool.FetchPool`) sends requests; this process runs
`page_fetch.fetch_page` for each, many at once, and sends back the small answer. A redirect hop
is vetted by the coordinator (robots of the hop's origin, whether the frontier already holds the
target): the worker asks and waits for the answer, as the in-process fetch awaits its check.

A page's parse runs on this loop, synchronously: it is short (about a millisecond) except on
hostile pages, whose parse time lexbor makes super-linear. Before each parse the worker writes
the request's id and the time into a slot of shared memory; the coordinator kills a worker whose
slot says it has been parsing longer than the deadline, and fails that page alone.

A robots.txt is fetched here too, on the coordinator's request, with this worker's Fetcher (its
address policy on every hop, its deadline), and comes back as the FetchResponse itself: the
coordinator parses and caches the rules (`robots`) and never builds a Fetcher of its own.

This module is imported by the coordinator (for `worker_main`, `shared_slot`, `picklable`), so
it loads the HTTP client and the parser only in a worker (`_Worker`); the forkserver preloads
them (`forkserver_preload`) so that every worker shares one copy.

Messages (tuples, `frames`):
- coordinator → worker: ("fetch", id, PageRequest), ("robots", id, url, max_redirects,
  max_bytes), ("hop", hop_id, (verdict, value)), ("rules", BodyRules), ("stop",);
- worker → coordinator: ("ready",), ("done", id, FetchedPage or, for robots, FetchResponse),
  ("failed", id, exception), ("hop", id, hop_id, url).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable
from ctypes import c_double
from multiprocessing.connection import Connection
from typing import Any

from ..ports import BlobWriter
from .fetch_types import FetchError, FetchResponse
from .frames import FrameReader, encode
from .page_fetch import BodyRules, FetchedPage, FetchSettings, PageRequest, fetch_page
from .page_types import PageJob, ParseError, ProcessedPage

__all__ = ["SLOT_FIELDS", "picklable", "shared_slot", "worker_main"]

# The parse slot: [id of the request being parsed (0: none), the monotonic time it started]
SLOT_FIELDS = 2
_READ_BYTES = 1024 * 1024


def _exit_when_the_coordinator_is_gone(fd: int) -> None:
    """Exit at once when the coordinator's end of our request pipe closes, even mid-parse: the
    deadline is the coordinator's to enforce, so a coordinator killed outright would otherwise
    leave us parsing a hostile page for minutes. lexbor releases the GIL while it parses."""
    poller = select.poll()
    poller.register(fd, 0)  # POLLHUP, POLLERR and POLLNVAL come whatever is asked
    while True:
        for _fd, _event in poller.poll():
            os._exit(0)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (TUI_SCRAPER_UVLOOP=0 says not to): this loop does nothing
    but fetch, parse and write, and uvloop's costs less a request."""
    if os.environ.get("TUI_SCRAPER_UVLOOP", "1") == "0":
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def worker_main(
    requests: Connection,
    answers: Connection,
    settings: FetchSettings,
    rules: BodyRules,
    blobs: BlobWriter,
    slot: Any,
) -> None:
    # Ctrl-C goes to the whole foreground process group; the coordinator decides what we do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_when_the_coordinator_is_gone,
        args=(requests.fileno(),),
        name="coordinator-watch",
        daemon=True,
    ).start()
    loop = _new_loop()
    try:
        worker = _Worker(loop, requests.fileno(), answers.fileno(), settings, rules, blobs, slot)
        loop.run_until_complete(worker.run())
    finally:
        with contextlib.suppress(Exception):
            loop.close()


class _Worker:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        requests_fd: int,
        answers_fd: int,
        settings: FetchSettings,
        rules: BodyRules,
        blobs: BlobWriter,
        slot: Any,
    ) -> None:
        self._loop = loop
        self._requests_fd = requests_fd
        self._answers_fd = answers_fd
        from . import parse  # the worker's own (see the module doc)

        self._process_page = parse.process_page
        self._fetcher = settings.build()
        self._rules = rules
        self._blobs = blobs
        self._slot = slot
        self._reader = FrameReader()
        self._outbox: list[bytes] = []
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._hops: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self._next_hop = 0
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        os.set_blocking(self._requests_fd, False)
        self._loop.add_reader(self._requests_fd, self._on_readable)
        self._say(("ready",))
        try:
            await self._stopped.wait()
        finally:
            self._loop.remove_reader(self._requests_fd)
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            await self._fetcher.aclose()

    # -- messages ----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = os.read(self._requests_fd, _READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the coordinator closed the pool or died
            self._stopped.set()
            return
        for message in self._reader.feed(data):
            self._handle(message)

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "fetch":
            _, request_id, request = message
            task = self._loop.create_task(self._fetch(request_id, request))
            self._tasks[request_id] = task
        elif kind == "robots":
            _, request_id, url, max_redirects, max_bytes = message
            task = self._loop.create_task(
                self._fetch_robots(request_id, url, max_redirects, max_bytes)
            )
            self._tasks[request_id] = task
        elif kind == "hop":
            _, hop_id, verdict = message
            waiter = self._hops.pop(hop_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(verdict)
        elif kind == "rules":
            self._rules = message[1]
        elif kind == "stop":
            self._stopped.set()

    def _say(self, message: tuple[Any, ...]) -> None:
        """Queue a message; everything queued in this turn of the loop leaves in one write."""
        if not self._outbox:
            self._loop.call_soon(self._flush)
        self._outbox.append(encode(message))

    def _flush(self) -> None:
        data = b"".join(self._outbox)
        self._outbox.clear()
        view = memoryview(data)
        try:
            # Blocking writes: a coordinator that reads slowly slows us down, which is right.
            while view:
                view = view[os.write(self._answers_fd, view) :]
        except OSError:
            self._stopped.set()  # the coordinator is gone

    # -- one request -------------------------------------------------------------------------

    async def _fetch(self, request_id: int, request: PageRequest) -> None:
        try:
            fetched: FetchedPage = await fetch_page(
                request,
                fetcher=self._fetcher,
                rules=self._rules,
                blobs=self._blobs,
                parse=self._parser(request_id),
                hop_check=self._hop_checker(request_id),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._say(("failed", request_id, picklable(exc)))
        else:
            try:
                self._say(("done", request_id, fetched))
            except Exception as exc:  # an answer that cannot be pickled must not leave the
                # coordinator waiting for it forever: the page fails as a page error
                self._say(("failed", request_id, ParseError(f"answer not sendable: {exc}")))
        finally:
            self._tasks.pop(request_id, None)

    async def _fetch_robots(
        self, request_id: int, url: str, max_redirects: int, max_bytes: int
    ) -> None:
        try:
            response: FetchResponse = await self._fetcher.fetch_robots(
                url, max_redirects=max_redirects, max_bytes=max_bytes
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._say(("failed", request_id, picklable(exc)))
        else:
            self._say(("done", request_id, response))
        finally:
            self._tasks.pop(request_id, None)

    def _parser(self, request_id: int) -> Callable[[PageJob], Any]:
        async def parse_here(job: PageJob) -> ProcessedPage:
            slot = self._slot
            # The time first: the coordinator reads the id, then the time, and must never pair
            # this id with the previous page's start.
            slot[1] = time.monotonic()
            slot[0] = float(request_id)
            try:
                return self._process_page(job, self._blobs)
            finally:
                slot[0] = 0.0

        return parse_here

    def _hop_checker(self, request_id: int) -> Callable[[str], Any]:
        async def check(url: str) -> str | None:
            self._next_hop += 1
            hop_id = self._next_hop
            waiter: asyncio.Future[tuple[str, Any]] = self._loop.create_future()
            self._hops[hop_id] = waiter
            self._say(("hop", request_id, hop_id, url))
            try:
                verdict, value = await waiter
            finally:
                self._hops.pop(hop_id, None)
            if verdict == "raise":
                raise value
            return value  # type: ignore[no-any-return]

        return check


def picklable(exc: Exception) -> Exception:
    # The real type matters to the coordinator (an OSError from a full disk is not a bad page;
    # a FetchError is the page's answer), so send it as it is when it survives pickling.
    if isinstance(exc, FetchError):
        return exc
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return ParseError(f"{type(exc).__name__}: {exc}")
    return exc


def shared_slot(ctx: Any) -> Any:
    """The parse slot, in memory both processes see (see the module doc)."""
    return ctx.RawArray(c_double, SLOT_FIELDS)
