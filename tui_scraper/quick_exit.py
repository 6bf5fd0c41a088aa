"""End a program once its work is done, without the interpreter's teardown.

Used by the command line (`cli.main` run as the program) and by the background worker
(`runtime/worker_main`), never by the app.

A crawl leaves a large heap behind it (the engine, aiohttp, httpx, the parser and everything
they built). Tearing it down at exit (module by module, then a last garbage collection) changes
nothing on disk: every commit is already durable, the store is closed and standard output is
flushed by then. The exit waits for it all the same: tens of milliseconds of CPU per command,
paid after the work, by every script that calls us.

So a program that is done runs the exit handlers (atexit: multiprocessing's, logging's), flushes
stdout and stderr and ends the process with `os._exit`. Only when nothing else still runs: a
live non-daemon thread (one a normal exit would wait for: work someone started and has not
joined) gets the normal exit instead, unchanged. Daemon threads (the store's connection threads
are made so) are cut short either way, as a normal exit does too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading


def others_running() -> bool:
    """Whether a non-daemon thread besides the main one is alive: the normal exit joins those."""
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def quick_exit(code: int) -> int:
    """End the process with `code` now (nothing of it is torn down); returns `code` only when
    the normal exit must run instead (see `others_running`)."""
    if others_running():
        return code
    # What the normal exit would run first: the handlers registered with atexit (the parse
    # pool's helper processes, logging's flush), then the final flush of the standard streams.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away is the command's business (it chose its exit code already).
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(code)
