"""Turn what happened to one page into the `PageResult` a checkpoint writes.

Kept apart from the crawler loop so the retry and failure rules can be read (and tested) alone.
"""

from __future__ import annotations

import random
from typing import Any

from ..backoff import backoff_delay
from ..domain.records import ClaimedPage, PageResult
from ..domain.status import PageStatus

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def is_html(content_type: str | None) -> bool:
    return (content_type or "text/html") in HTML_TYPES


def matches_download(content_type: str | None, patterns: tuple[str, ...]) -> bool:
    if not content_type:
        return False
    major = content_type.split("/", 1)[0]
    for pattern in patterns:
        if pattern == content_type or (pattern.endswith("/*") and pattern[:-2] == major):
            return True
    return False


def error_info(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"kind": kind, "message": message[:500]}
    info.update({k: v for k, v in extra.items() if v is not None})
    return info


def retry_or_fail(
    page: ClaimedPage,
    *,
    kind: str,
    message: str,
    now: float,
    max_retries: int,
    retry_after: float | None = None,
    http_status: int | None = None,
    rng: random.Random | None = None,
) -> PageResult:
    """A transient failure: back in the frontier with a due time, or failed when retries ran out.

    The wait lives in the row (`next_attempt_at`), not in a sleeping worker, so it survives a
    restart and costs nothing while it waits.
    """
    attempts = page.attempts + 1
    if attempts > max_retries:
        return PageResult(
            page_id=page.id,
            url=page.url,
            status=PageStatus.FAILED,
            attempts=attempts,
            http_status=http_status,
            error=error_info(kind, message, attempts=attempts, http_status=http_status),
            fetched_at=now,
        )
    delay = backoff_delay(attempts, rng=rng or random.Random())
    if retry_after is not None:
        delay = max(delay, retry_after)
    return PageResult(
        page_id=page.id,
        url=page.url,
        status=PageStatus.QUEUED,
        attempts=attempts,
        next_attempt_at=now + delay,
        http_status=http_status,
        error=error_info(kind, message, attempts=attempts, retry_in_s=round(delay, 1)),
    )


def permanent(
    page: ClaimedPage,
    status: PageStatus,
    *,
    kind: str,
    message: str,
    now: float,
    http_status: int | None = None,
    content_type: str | None = None,
) -> PageResult:
    return PageResult(
        page_id=page.id,
        url=page.url,
        status=status,
        attempts=page.attempts + 1,
        http_status=http_status,
        content_type=content_type,
        error=error_info(kind, message, http_status=http_status),
        fetched_at=now,
    )


def requeue_untouched(page: ClaimedPage, *, at: float) -> PageResult:
    """Back to the frontier without charging an attempt (its host is down, or we are stopping)."""
    return PageResult(
        page_id=page.id,
        url=page.url,
        status=PageStatus.QUEUED,
        attempts=page.attempts,
        next_attempt_at=at,
    )
