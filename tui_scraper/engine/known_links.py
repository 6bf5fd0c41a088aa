"""Links this run has already committed to the frontier, so they are not sent to it again.

A page of a site links mostly to pages the frontier already holds (navigation, sections): on our
benchmark site 23 links a page, 1 of them new. Each one is an INSERT OR IGNORE in the batch
commit that changes nothing. Dropping the ones this run committed before costs a set look-up and
changes nothing either: a row is never removed from the frontier while its session runs, so a
URL committed once is there for the rest of the run.

Exact, not probabilistic: the set holds the URL strings (compared in full), never their hashes,
and only URLs whose commit succeeded. It is bounded (`cap` URLs; past it, new URLs are simply not
remembered and go to the store as before), so memory stays flat however large the frontier.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.records import PageResult

__all__ = ["DEFAULT_CAP", "CommittedLinks"]

DEFAULT_CAP = 50_000


class CommittedLinks:
    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self._urls: set[str] = set()

    def __len__(self) -> int:
        return len(self._urls)

    def __contains__(self, url: str) -> bool:
        return url in self._urls

    def unknown(self, links: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """The (url, depth) links that this run has not committed yet, in their order."""
        urls = self._urls
        if not urls:
            return links
        return [link for link in links if link[0] not in urls]

    def remember(self, batch: Iterable[PageResult]) -> None:
        """Call after `batch` committed with no page limit (near one, the store may refuse a
        link for want of room): its links are in the frontier now."""
        urls = self._urls
        cap = self.cap
        for result in batch:  # a redirect's target is a result of its own in the batch
            for link in result.links:
                if len(urls) >= cap:
                    return
                urls.add(link.url)
