"""engine/outcome.py: how a run ended, from what stopped it (units: pure functions)."""

from __future__ import annotations

import errno
from typing import Any

from tui_scraper.domain.errors import StorageUnavailable
from tui_scraper.domain.records import PageRecord
from tui_scraper.domain.status import PageStatus, Status
from tui_scraper.engine.outcome import (
    describe_error,
    error_outcome,
    judge_completion,
    outcome_for_stop,
)


def seed(status: PageStatus, error: dict[str, Any] | None = None) -> PageRecord:
    return PageRecord(
        id=1,
        session_id="s",
        url="http://127.0.0.1/",
        depth=0,
        status=status,
        attempts=1,
        next_attempt_at=None,
        http_status=None,
        content_type=None,
        encoding=None,
        content_hash=None,
        storage_path=None,
        title=None,
        extracted=None,
        error=error,
        fetched_at=None,
        elapsed_ms=None,
        size=None,
        parent_id=None,
    )


def test_stops_asked_for() -> None:
    assert outcome_for_stop("pause", "", None).status is Status.PAUSED
    cancelled = outcome_for_stop("cancel", "ignored", None)
    assert (cancelled.status, cancelled.error) == (Status.FAILED, "cancelled")
    interrupted = outcome_for_stop("interrupt", "signal 15", "signal")
    assert (interrupted.status, interrupted.reason, interrupted.who) == (
        Status.INTERRUPTED,
        "signal 15",
        "signal",
    )


def test_an_empty_frontier_is_a_success_only_when_something_was_achieved() -> None:
    done = {PageStatus.DONE: 3, PageStatus.FAILED: 2}
    assert judge_completion(seed(PageStatus.DONE), done).status is Status.COMPLETED
    failed_seed = judge_completion(seed(PageStatus.FAILED, {"message": "refused"}), done)
    assert failed_seed.status is Status.FAILED
    assert failed_seed.error == "the start URL failed: refused"
    nothing = judge_completion(seed(PageStatus.DONE), {PageStatus.FAILED: 4})
    assert (
        nothing.status is Status.FAILED and nothing.error == "no page could be fetched (4 failed)"
    )
    assert judge_completion(None, {PageStatus.SKIPPED: 1}).status is Status.COMPLETED


def test_our_faults_are_resumable_and_bugs_are_final() -> None:
    full = error_outcome(OSError(errno.ENOSPC, "No space left on device"))
    assert full.status is Status.INTERRUPTED and full.error
    assert error_outcome(StorageUnavailable("locked")).status is Status.INTERRUPTED
    bug = error_outcome(ValueError("first line\nsecond line"))
    assert (bug.status, bug.error) == (Status.FAILED, "first line")
    assert describe_error(ValueError()) == "ValueError"
    assert len(describe_error(RuntimeError("x" * 1000))) == 300
