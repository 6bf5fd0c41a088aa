"""Live tuning of a running crawl: what may change while it runs, checked before it is sent.

The same bounds as the crawl options (`config.BOUNDS`), so `set --rate 5` and `crawl --rate 5`
refuse the same values; whichever way the change travels (the live channel or a control
record), it is these three fields as JSON.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import BOUNDS, CrawlConfig
from .errors import ConfigError

# The channel refuses more than this many patterns or longer ones: a change stays one line.
MAX_EXCLUDE_PATTERNS = 256
MAX_PATTERN_CHARS = 2048
# The settings a `set` command's args may name.
SETTINGS = ("rate", "concurrency", "exclude")


@dataclass(frozen=True)
class Tuning:
    """A change to a running crawl; a field left None stays as it is.

    `rate` is requests per second per host (the crawl's `rate_per_host`), `concurrency` the
    requests in flight for the whole crawl, `exclude` the full new list of exclude patterns
    (an empty tuple removes them all)."""

    rate: float | None = None
    concurrency: int | None = None
    exclude: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.rate is None and self.concurrency is None and self.exclude is None:
            raise ConfigError("set", "name at least one of rate, concurrency, exclude")
        if self.rate is not None:
            low, high = BOUNDS["rate"]
            rate = self.rate
            number = isinstance(rate, int | float) and not isinstance(rate, bool)
            if not number or not math.isfinite(rate) or not low <= rate <= high:
                raise ConfigError(
                    "rate", f"must be a number of requests per second from {low:g} to {high:g}"
                )
        if self.concurrency is not None:
            low, high = BOUNDS["concurrency"]
            whole = isinstance(self.concurrency, int) and not isinstance(self.concurrency, bool)
            if not whole or not low <= self.concurrency <= high:
                raise ConfigError("concurrency", f"must be a whole number from {low:g} to {high:g}")
        if self.exclude is not None:
            if len(self.exclude) > MAX_EXCLUDE_PATTERNS:
                raise ConfigError("exclude", f"at most {MAX_EXCLUDE_PATTERNS} patterns")
            for pattern in self.exclude:
                if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_CHARS:
                    raise ConfigError(
                        "exclude", f"each pattern is 1 to {MAX_PATTERN_CHARS} characters"
                    )
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ConfigError(
                        "exclude", f"bad regular expression {pattern!r}: {exc}"
                    ) from None

    def as_args(self) -> dict[str, Any]:
        """The change as the `set` command's args (and a control record's)."""
        args: dict[str, Any] = {}
        if self.rate is not None:
            args["rate"] = float(self.rate)
        if self.concurrency is not None:
            args["concurrency"] = self.concurrency
        if self.exclude is not None:
            args["exclude"] = list(self.exclude)
        return args

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Tuning:
        """The change a `set` command's args (or a control record's) name; ConfigError for an
        unknown setting or a bad value, exactly as a Tuning built by hand."""
        unknown = sorted(set(args) - set(SETTINGS))
        if unknown:
            raise ConfigError(
                "set", f"no setting {unknown[0]!r:.60} (one of {', '.join(SETTINGS)})"
            )
        exclude = args.get("exclude")
        if exclude is not None:
            if not isinstance(exclude, list | tuple):
                raise ConfigError("exclude", "must be a list of patterns")
            exclude = tuple(exclude)
        return cls(rate=args.get("rate"), concurrency=args.get("concurrency"), exclude=exclude)

    def applied_to(self, config: CrawlConfig) -> CrawlConfig:
        """`config` with this change made: what a resume of the tuned session crawls with."""
        changes: dict[str, Any] = {}
        if self.rate is not None:
            changes["rate_per_host"] = float(self.rate)
        if self.concurrency is not None:
            changes["concurrency"] = self.concurrency
        if self.exclude is not None:
            changes["exclude"] = tuple(self.exclude)
        return config.with_changes(**changes)

    def describe(self) -> str:
        """One line for a timeline or a toast: `rate 5/s, concurrency 4, exclude 2 patterns`."""
        parts: list[str] = []
        if self.rate is not None:
            parts.append(f"rate {self.rate:g}/s per host")
        if self.concurrency is not None:
            parts.append(f"concurrency {self.concurrency}")
        if self.exclude is not None:
            count = len(self.exclude)
            parts.append(
                "no exclude patterns"
                if not count
                else f"exclude {count} pattern{'s' if count != 1 else ''}"
            )
        return ", ".join(parts)


def describe_tunables(config: CrawlConfig) -> str:
    """What live tuning can change, as `config` has it: the ack of a `set` says this."""
    rate = config.rate_per_host
    count = len(config.exclude)
    return ", ".join(
        [
            f"rate {rate:g}/s per host" if rate else "no rate limit",
            f"concurrency {config.concurrency}",
            "no exclude patterns" if not count else f"{count} exclude pattern{'s' * (count != 1)}",
        ]
    )


__all__ = [
    "MAX_EXCLUDE_PATTERNS",
    "MAX_PATTERN_CHARS",
    "SETTINGS",
    "Tuning",
    "describe_tunables",
]
