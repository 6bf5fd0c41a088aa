"""How many new connections the channel takes on: a token bucket that accepting draws from.

Connections are not refused when the bucket is empty: they wait in the kernel's listen backlog,
and the server accepts them as tokens come back, so a burst of clients is greeted a little later
instead of taking the worker's time all at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

# Clock arithmetic in floats leaves a token that has come back a hair short of 1.
_ROUNDING: Final = 1e-9


class AdmissionBudget:
    """At most `burst` admissions at once and `per_second` a second on average.

    The bucket starts full; each admission takes a token and tokens come back at `per_second`.
    """

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float]) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("an admission budget needs a positive rate and a burst of at least 1")
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        return self._tokens

    def available(self) -> int:
        """How many admissions may happen now."""
        return int(self._refill() + _ROUNDING)

    def take(self) -> bool:
        """Use one admission: True, or False (nothing taken) when there is none now."""
        if self.available() < 1:
            return False
        self._tokens = max(0.0, self._tokens - 1)
        return True

    def wait_s(self) -> float:
        """Seconds until the next admission is available (0 when one is now)."""
        missing = 1 - _ROUNDING - self._refill()
        return max(0.0, missing / self.per_second)
