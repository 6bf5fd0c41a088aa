"""The trap guard: bounds on how many URLs one URL *shape* may add to a crawl.

Calendars (`/cal?day=N` links to N+1, `/diary/2024/01/02/` to the next day) and per-visit
tokens (`?s=3f9a…` on every link) make an endless supply of distinct URLs that scope, depth and
canonicalisation cannot stop: with no `--max-pages`/`--max-depth` such a crawl never ends. As
Heritrix and StormCrawler do, the guard caps cardinality instead:

- per *pattern* — host, path with every digit run as `0`, and the sorted query parameter names:
  `/cal?day=17` and `/cal?day=18` share a pattern, as do `/diary/2024/01/02/` and `…/03/`;
- per *query parameter* of a host — the number of distinct values one parameter name takes:
  pagination's `page` takes a few dozen, a session token one per visit.

Only URLs new to this run count (a set of their hashes, so a link repeated on every page costs
one lookup); a saturated key refuses every new URL of its kind, once announced. Limits of 0 mean
no limit. The counts live in memory: a resumed crawl starts them afresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from ..domain.config import DEFAULT_MAX_PARAM_VALUES, DEFAULT_MAX_PER_PATTERN

__all__ = ["TrapGuard"]

_DIGITS: Final = re.compile(r"\d+")


@dataclass
class TrapGuard:
    max_per_pattern: int = DEFAULT_MAX_PER_PATTERN
    max_param_values: int = DEFAULT_MAX_PARAM_VALUES
    _admitted: set[int] = field(default_factory=set)
    _patterns: dict[str, int] = field(default_factory=dict)
    _values: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    # Keys that refused a URL, and what to say about them (once) via `new_saturations`.
    _refusing: set[str] = field(default_factory=set)
    _announce: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.max_per_pattern > 0 or self.max_param_values > 0

    def admit(self, url: str) -> bool:
        """True when `url` (canonical, http(s)) may enter the frontier."""
        key = hash(url)
        if key in self._admitted:
            return True  # seen this run: the frontier holds it already, or refuses it itself
        origin, rest = _split(url)
        path, _, query = rest.partition("?")
        pairs = [part.partition("=") for part in query.split("&")] if query else []
        names = sorted({name for name, _eq, _value in pairs})
        suffix = "?" + "&".join(names) if names else ""
        pattern = origin + _DIGITS.sub("0", path) + suffix
        limit = self.max_per_pattern
        count = self._patterns.get(pattern, 0)
        if limit and count >= limit:
            shown = origin + _DIGITS.sub("N", path) + suffix
            return self._refuse(pattern, f"more than {limit} URLs like {shown}")
        new_values: list[tuple[set[int], int]] = []
        if self.max_param_values:
            for name, _eq, value in pairs:
                values = self._values.setdefault((origin, name), set())
                digest = hash(value)
                if digest in values:
                    continue
                if len(values) >= self.max_param_values:
                    return self._refuse(
                        f"{origin} {name}",
                        f"more than {self.max_param_values} values of query parameter "
                        f"{name!r} on {origin}",
                    )
                new_values.append((values, digest))
        for values, digest in new_values:
            values.add(digest)
        self._patterns[pattern] = count + 1
        self._admitted.add(key)
        return True

    def _refuse(self, key: str, text: str) -> bool:
        if key not in self._refusing:
            self._refusing.add(key)
            self._announce.append(text)
        return False

    def new_saturations(self) -> list[str]:
        """What reached its limit since the last call, each said once (for the timeline)."""
        out, self._announce = self._announce, []
        return out


def _split(url: str) -> tuple[str, str]:
    """(scheme://host[:port], the rest from the path on) of a canonical URL."""
    start = url.find("//") + 2
    slash = url.find("/", start)
    if slash < 0:
        return url, "/"
    return url[:slash], url[slash:]
