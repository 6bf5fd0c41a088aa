"""The fetch pool, with the crawl's own process standing in until a worker is ready.

A fetch worker starts in about half a second or more on a busy machine (the forkserver imports
the HTTP client and the parser once before it forks the workers). The crawl's process has all of
that imported already, so it fetches the first pages itself, parsing in a thread, instead of
waiting; from the moment a worker says it is ready every request goes to the pool. On a small
crawl that start-up was a large part of the whole run.
"""

from __future__ import annotations

from .fetch_pool import FetchPool
from .page_fetch import BodyRules, FetchedPage, HopCheck, LocalPageFetcher, PageRequest

__all__ = ["WarmStartFetcher"]


class WarmStartFetcher:
    def __init__(self, pool: FetchPool, local: LocalPageFetcher) -> None:
        self._pool = pool
        self._local = local
        self.local_fetches = 0  # for tests and figures

    async def fetch(self, request: PageRequest, hop_check: HopCheck) -> FetchedPage:
        pool = self._pool
        if pool.ready or pool.unavailable is not None:
            # Workers that cannot start are our fault, which stops the crawl resumably: the
            # pool says so on its next request rather than this process crawling on alone.
            return await pool.fetch(request, hop_check)
        self.local_fetches += 1
        return await self._local.fetch(request, hop_check)

    def retune(self, rules: BodyRules) -> None:
        self._pool.retune(rules)
        self._local.retune(rules)

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self._local.aclose()
