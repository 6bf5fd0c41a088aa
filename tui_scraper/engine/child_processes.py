"""How the crawl starts its fetch worker processes, and reaps them.

Always with the forkserver method (spawn where it does not exist), never fork: the crawl's
process holds SQLite connections, and a forked copy of those corrupts databases
(https://www.sqlite.org/howtocorrupt.html). The forkserver preloads the worker module (and so
httpx, aiohttp and selectolax), uvloop and the blob writer's module, then freezes its heap
(`forkserver_preload`), so a worker, or its replacement after a kill, is a cheap fork of a clean
interpreter that already imported them, and the workers share those pages with it.

No resource_tracker process: multiprocessing starts one beside the forkserver to unlink named
semaphores and shared memory segments that a killed process leaves behind. The crawl makes
neither (its pipes are pipes; the parse slots' RawArray lives in a file unlinked as soon as it is
made), so a whole interpreter kept running for it would track nothing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["enlarge_pipe", "no_cwd_on_child_path", "prestart", "process_context", "reap"]

# Imported last by the forkserver: it imports the worker module, then freezes the heap.
_PRELOAD_LAST = "tui_scraper.engine.forkserver_preload"
# Modules the callers asked the forkserver to import too (the blob writer's): kept for a
# forkserver started again later.
_preload_also: list[str] = []
_PIPE_BYTES = 1024 * 1024


def process_context(preload: Iterable[str] = ()) -> BaseContext:
    """The context fetch workers start from. `preload`: modules the forkserver should import
    before it forks them (that of an object pickled to every worker, say), when it starts."""
    for name in preload:
        if name not in _preload_also:
            _preload_also.append(name)
    _no_resource_tracker()
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([*_preload_also, _PRELOAD_LAST])
        return ctx
    return multiprocessing.get_context("spawn")


def _no_resource_tracker() -> None:
    """Have multiprocessing start its children without a resource_tracker process (see the
    module doc): its tracker is handed a descriptor of /dev/null as if it ran. It takes the
    descriptor as proof of a live tracker, passes it to each child, and what a child would
    report there goes nowhere, as nothing ever needs cleaning up after. A tracker already
    running in this process (the app starts one) is left as it is; so is a Python whose
    multiprocessing is built otherwise."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    if tracker is None or getattr(tracker, "_fd", 0) is not None:
        return
    tracker._fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)


def prestart(preload: Iterable[str] = ()) -> None:
    """Start the forkserver now. It imports the HTTP client and the parser once (a few hundred
    milliseconds of CPU) before it can fork the first fetch worker: started as the crawl's process
    begins, it does that on the other core while this process imports and opens its store, instead
    of after, with the first request waiting. Returns at once; the first worker start waits for
    the preload, as it would anyway. `preload` as for `process_context`."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    process_context(preload)
    from multiprocessing import forkserver

    with no_cwd_on_child_path():
        forkserver.ensure_running()


@contextlib.contextmanager
def no_cwd_on_child_path() -> Iterator[None]:
    """The forkserver (or spawn child) is `python -c …`, which puts the current directory first on
    sys.path, and 3.11's forkserver preloads our modules before it ever applies the parent's path:
    started from a directory holding another `tui_scraper` (a checkout of an older version), the
    workers would run that code. PYTHONSAFEPATH keeps the current directory out, for that exec only
    (set for good, it would also drop a script's own directory from every later child's path)."""
    if "PYTHONSAFEPATH" in os.environ:
        yield
        return
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        os.environ.pop("PYTHONSAFEPATH", None)


def enlarge_pipe(fd: int) -> None:
    """A batch of messages (or a page) is often more than Linux's default 64 KB pipe: 1 MiB (the
    default pipe-max-size) takes it in one write and one wake-up. Best effort."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, set_size, _PIPE_BYTES)


def reap(proc: BaseProcess, grace: float) -> None:
    """Wait up to `grace` seconds for `proc` to exit, then kill it; never leave a zombie."""
    proc.join(grace)
    if proc.is_alive():
        proc.kill()
        proc.join(5)
