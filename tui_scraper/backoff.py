"""Full-jitter exponential backoff: the one rule for page retries, host probes and reconnects."""

from __future__ import annotations

import random
from typing import Final

__all__ = ["backoff_delay"]


def backoff_delay(
    attempt: int, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None
) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)].

    attempt 0 is the first retry. Full jitter spreads retries of many pages that failed together
    (a host outage) instead of sending them back in one burst.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 0), 62))
    return (rng or _RNG).uniform(0.0, ceiling)


_RNG: Final = random.Random()
