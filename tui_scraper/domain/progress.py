"""The progress snapshot: what a checkpoint stores and what the UI and headless line show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Progress:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    queued: int = 0
    fetching: int = 0  # requests in flight (claimed rows not yet started count as queued)
    bytes: int = 0
    # Live: pages finished in the last seconds / the time they cover. Stopped: the average.
    pages_per_s: float = 0.0
    avg_pages_per_s: float = 0.0  # (done + failed) / elapsed_s over the whole session
    elapsed_s: float = 0.0
    last_url: str = ""
    # host -> human text such as "host down, next try in 8 s"; empty when all hosts answer.
    host_states: dict[str, str] = field(default_factory=dict)
    # What the crawl is waiting on, e.g. "waiting for the database (locked by another process)".
    waiting: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Progress:
        if not data:
            return cls()
        # Unknown keys are dropped and missing ones take their defaults: progress stored by an
        # older or newer version stays loadable.
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def completed_fraction(progress: Progress, max_pages: int | None) -> float | None:
    """How far a crawl is, 0..1: against its page budget when it has one, else against what it
    knows of so far (finished + queued + in flight); None before it knows of any page."""
    finished = progress.done + progress.failed + progress.skipped
    if max_pages:
        return min(1.0, finished / max_pages)
    total = finished + progress.queued + progress.fetching
    return finished / total if total else None
