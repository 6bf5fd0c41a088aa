"""Run the headless CLI's event loop so that resource exhaustion never prints a traceback.

Under memory pressure (RLIMIT_AS, a box out of RAM) asyncio itself becomes the noisy part: every
socket whose `recv` raises MemoryError is logged as "Fatal read error on socket transport" with a
full traceback, and `asyncio.run` ends by starting a thread to shut down its executor, which fails
with "can't start new thread" after the command has already decided its exit code. The crawl
records our faults itself (interrupted, with the reason); what reaches the terminal here is one line
per kind of loop error, and the exit code the command chose.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from .safe_text import display_safe

T = TypeVar("T")


class OneLineLoopErrors:
    """An asyncio exception handler: one line per (message, exception type), repeats counted."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "error in the event loop")
        exc = context.get("exception")
        kind = type(exc).__name__ if exc is not None else ""
        key = (message, kind)
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] > 1:
            return
        detail = f" ({kind}: {exc})" if exc is not None and str(exc) else f" ({kind})"
        line = f"tui-scraper: {message}{detail if kind else ''}"
        print(display_safe(line, 300), file=sys.stderr)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with loop errors as single lines and a shutdown that cannot fail the run."""
    runner = asyncio.Runner()
    try:
        runner.get_loop().set_exception_handler(OneLineLoopErrors())
        return runner.run(coro)
    finally:
        # The executor's shutdown thread may not start (no memory for its stack). The process
        # is exiting and its threads with it; the command's outcome is already recorded, so this
        # must not replace it with a traceback.
        with contextlib.suppress(RuntimeError, MemoryError):
            runner.close()
