"""Figures for people: bytes, durations, times, rates. One formatter for the app and the CLI.

Plain strings of trusted values (no markup, nothing from a website), so the core may use them
without importing any UI library.
"""

from __future__ import annotations

import time
from datetime import datetime


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - loop always returns


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def human_time(epoch: float | None, *, now: float | None = None, short: bool = False) -> str:
    """Local wall-clock time of an epoch; the date instead when it is not today.

    `now` is injectable so snapshots do not depend on the day they are taken.
    """
    if not epoch:
        return "–"
    moment = datetime.fromtimestamp(epoch)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    if moment.date() == today:
        return moment.strftime("%H:%M" if short else "%H:%M:%S")
    return moment.strftime("%m-%d" if short else "%Y-%m-%d %H:%M")


def human_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def human_rate(per_s: float | None) -> str:
    """Pages per second, to a tenth: a slow, polite crawl shows 0.5, not 0 or 1."""
    if per_s is None:
        return "–"
    return f"{per_s:.1f} pages/s"
