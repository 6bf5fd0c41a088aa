"""Crash points for the kill tests: SIGKILL this process at a named point of the crawl.

Kept out of the engine's classes so the hot path holds one call per point and no test state.
`TUI_SCRAPER_CRASH_AT` names the point (read once per process); unset, every call is a no-op.
The points: `after_blob_write` (a page's content is on disk, its row is not), `before_checkpoint`
and `after_checkpoint` (either side of one batch commit).
"""

from __future__ import annotations

import os
import signal

__all__ = ["crash_point"]

_ENV = "TUI_SCRAPER_CRASH_AT"
_armed: str | None = None


def crash_point(point: str) -> None:
    global _armed
    if _armed is None:
        _armed = os.environ.get(_ENV, "")
    if _armed and point == _armed:
        os.kill(os.getpid(), signal.SIGKILL)
