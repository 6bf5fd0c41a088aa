"""How a background worker is named on screen: `pid 4242 on box · 3m`."""

from __future__ import annotations

from tui_scraper.service import WorkerInfo

from ..text import display_safe


def age(seconds: float) -> str:
    """A coarse age for a glance: `45s`, `3m`, `2h 5m`, `3d 4h`."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def worker_label(worker: WorkerInfo, *, now: float | None) -> str:
    """pid, host (it comes from a file in the data dir: made display-safe) and how long the
    worker has run, when it said when it started (and `now` is given: a label redrawn with the
    table; a title drawn once leaves the age out rather than let it go stale)."""
    text = f"pid {worker.pid}"
    if worker.host:
        text += f" on {display_safe(worker.host, 40)}"
    if worker.since is not None and now is not None:
        text += f" · {age(now - worker.since)}"
    return text
