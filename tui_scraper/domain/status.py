"""Session states and the transitions between them (docs/ARCHITECTURE.md, "Session states")."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.FAILED}),
    Status.RUNNING: frozenset({Status.PAUSED, Status.COMPLETED, Status.FAILED, Status.INTERRUPTED}),
    Status.PAUSED: frozenset({Status.RUNNING, Status.FAILED}),
    Status.INTERRUPTED: frozenset({Status.RUNNING, Status.FAILED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
}

# States a user can resume from: the recovery screen and `resume` accept these.
RESUMABLE: frozenset[Status] = frozenset({Status.PENDING, Status.PAUSED, Status.INTERRUPTED})
FINAL: frozenset[Status] = frozenset({Status.COMPLETED, Status.FAILED})


def is_allowed(current: Status, wanted: Status) -> bool:
    return wanted in ALLOWED_TRANSITIONS[current]


class PageStatus(StrEnum):
    QUEUED = "queued"
    FETCHING = "fetching"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
