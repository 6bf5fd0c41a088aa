"""Redirect targets a crawl is fetching under another page's name, until their row commits.

A redirect is followed only to a URL the frontier does not hold in any state (a queued row would
be claimed and fetched a second time). Between the hop and the checkpoint that stores the target
under its own URL, the frontier still does not know it: a link to it may be inserted and claimed,
or a second redirect may lead to it. This registry closes that window in memory: a second hop is
refused, and a claimed row for a reserved URL adopts the redirect's result instead of fetching.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from ..domain.records import ClaimedPage, PageResult

__all__ = ["RedirectTargets"]


class RedirectTargets:
    def __init__(self) -> None:
        # url -> owner page id, and the target's result once the owner's fetch has finished
        self._owner: dict[str, int] = {}
        self._done: dict[str, asyncio.Future[PageResult | None]] = {}
        self._by_owner: dict[int, list[str]] = {}  # so `finish` costs nothing for most pages
        # Committed targets whose row was claimed meanwhile: kept until that row adopts them.
        self._orphans: set[str] = set()

    def __len__(self) -> int:
        return len(self._done)

    def reserve(self, url: str, owner: int) -> bool:
        """True when `url` was free and is now the owner's; False when another fetch has it."""
        if url in self._done:
            return self._owner[url] == owner
        self._owner[url] = owner
        self._done[url] = asyncio.get_running_loop().create_future()
        self._by_owner.setdefault(owner, []).append(url)
        return True

    def finish(self, owner: int, target: PageResult | None) -> None:
        """The owner's fetch ended. Its final target stays reserved (with its result) until
        `committed`; every other hop it reserved is released."""
        for url in self._by_owner.pop(owner, ()):
            kept = target is not None and target.url == url
            future = self._done[url]
            if not future.done():
                future.set_result(target if kept else None)
            if not kept:
                del self._owner[url], self._done[url]

    async def committed(
        self,
        results: Iterable[PageResult],
        claimed: Callable[[str], Awaitable[bool]],
    ) -> None:
        """Results stored under their own URL are in the frontier now: it answers from here on.

        Except for a row that was claimed before the commit (the store then keeps that row and
        drops the redirect's copy): `claimed(url)` says so, and the reservation waits for that
        row to adopt it.
        """
        for result in results:
            url = result.url
            if result.page_id is None and url in self._done and url not in self._orphans:
                if await claimed(url):
                    self._orphans.add(url)
                else:
                    self._forget(url)

    def _forget(self, url: str) -> None:
        self._owner.pop(url, None)
        self._done.pop(url, None)
        self._orphans.discard(url)

    async def adopt(self, page: ClaimedPage) -> PageResult | None:
        """For a claimed row whose URL a redirect is fetching: that fetch's result, as this row's
        own (None: the redirect stored nothing, so the row is fetched as usual)."""
        future = self._done.get(page.url)
        if future is None or self._owner.get(page.url) == page.id:
            return None
        target = await asyncio.shield(future)
        if page.url in self._orphans:
            self._forget(page.url)  # adopted: this row's own result now settles it
        if target is None:
            return None
        return replace(target, page_id=page.id, attempts=page.attempts + 1, redirect_result=None)
