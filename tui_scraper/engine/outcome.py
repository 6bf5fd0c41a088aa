"""How a crawl ended, decided from what stopped it: the outcome the runtime records.

Pure: no store, no clock. The crawler asks these once the run has stopped; the runtime turns
the outcome into the session's final transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..domain.records import PageRecord
from ..domain.status import PageStatus, Status
from .faults import describe_fault, is_our_fault

__all__ = [
    "CrawlOutcome",
    "StopKind",
    "describe_error",
    "error_outcome",
    "judge_completion",
    "outcome_for_stop",
]

StopKind = Literal["pause", "cancel", "interrupt"]


@dataclass
class CrawlOutcome:
    status: Status
    reason: str
    error: str | None = None
    who: str | None = None  # who asked for the stop (e.g. "signal"); None: the crawl itself


def outcome_for_stop(kind: StopKind | None, reason: str, who: str | None) -> CrawlOutcome:
    """A stop that was asked for: pause and interrupt are resumable, cancel is final."""
    if kind == "pause":
        return CrawlOutcome(Status.PAUSED, reason or "paused by the user")
    if kind == "cancel":
        return CrawlOutcome(Status.FAILED, "cancelled", "cancelled")
    return CrawlOutcome(Status.INTERRUPTED, reason or "interrupted", who=who)


def judge_completion(seed: PageRecord | None, counts: dict[PageStatus, int]) -> CrawlOutcome:
    """An empty frontier is a success only if the crawl achieved something: a start URL that
    failed, or a run in which no page could be fetched, is final and is `failed`."""
    if seed is not None and seed.status is PageStatus.FAILED:
        error = seed.error or {}
        why = str(error.get("message") or error.get("kind") or "failed")
        return CrawlOutcome(Status.FAILED, "error", f"the start URL failed: {why}")
    if counts.get(PageStatus.DONE, 0) == 0 and counts.get(PageStatus.FAILED, 0):
        failed = counts[PageStatus.FAILED]
        return CrawlOutcome(Status.FAILED, "error", f"no page could be fetched ({failed} failed)")
    return CrawlOutcome(Status.COMPLETED, "frontier exhausted")


def error_outcome(exc: BaseException) -> CrawlOutcome:
    if is_our_fault(exc):
        # Our disk, descriptors, memory, database lock or data dir: what was committed is
        # intact; the session is resumed once the cause is fixed (engine/faults.py).
        return CrawlOutcome(Status.INTERRUPTED, "error", describe_fault(exc))
    return CrawlOutcome(Status.FAILED, "error", describe_error(exc))


def describe_error(exc: BaseException) -> str:
    """One line, bounded: what an error says where a session's reason is shown."""
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0][:300] if text else exc.__class__.__name__
