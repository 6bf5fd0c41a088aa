"""Find what is new at the end of a bounded, append-only list sampled repeatedly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def new_tail(old: Sequence[T], new: Sequence[T]) -> list[T]:
    """Items of `new` that came after everything in `old`.

    Both are windows on the same append-only stream (a deque with maxlen), so `new` is `old`
    with some items dropped at the front and some appended at the back. The smallest number
    of appended items whose removal makes `new` end like `old` is the answer; if nothing
    overlaps (the window moved on completely, or the stream restarted) all of `new` is new.
    """
    if not old:
        return list(new)
    for appended in range(len(new) + 1):
        kept = len(new) - appended
        if kept == 0:
            return list(new)
        if kept <= len(old) and list(new[:kept]) == list(old[len(old) - kept :]):
            return list(new[kept:])
    return list(new)  # pragma: no cover - the loop returns at kept == 0
