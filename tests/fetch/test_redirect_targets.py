"""engine/redirects.py as a unit: a redirect target is fetched by one owner, until it commits."""

from __future__ import annotations

import asyncio

from tui_scraper.domain.records import ClaimedPage, PageResult
from tui_scraper.domain.status import PageStatus
from tui_scraper.engine.redirects import RedirectTargets

URL = "http://example.com/d/"


def _target() -> PageResult:
    return PageResult(page_id=None, url=URL, status=PageStatus.DONE, attempts=1, title="D")


async def _never_claimed(_url: str) -> bool:
    return False


async def _always_claimed(_url: str) -> bool:
    return True


async def test_claimed_row_adopts_the_redirects_result() -> None:
    hops = RedirectTargets()
    assert hops.reserve(URL, owner=1)
    assert not hops.reserve(URL, owner=2)  # a second redirect to it is refused
    row = ClaimedPage(id=7, url=URL, depth=2, attempts=0, parent_id=3)
    waiting = asyncio.create_task(hops.adopt(row))
    await asyncio.sleep(0)
    assert not waiting.done()  # the redirect's fetch is still running
    hops.finish(1, _target())
    adopted = await waiting
    assert adopted is not None
    assert (adopted.page_id, adopted.url, adopted.status, adopted.title) == (
        7,
        URL,
        PageStatus.DONE,
        "D",
    )
    assert adopted.attempts == 1
    await hops.committed([_target()], _never_claimed)
    assert len(hops) == 0 and hops.reserve(URL, owner=2)


async def test_a_failed_redirect_releases_every_hop() -> None:
    hops = RedirectTargets()
    assert hops.reserve(URL, owner=1)
    assert hops.reserve(URL + "more", owner=1)
    row = ClaimedPage(id=7, url=URL, depth=2, attempts=0, parent_id=3)
    waiting = asyncio.create_task(hops.adopt(row))
    await asyncio.sleep(0)
    hops.finish(1, None)
    assert await waiting is None  # nothing stored: the row is fetched as usual
    assert len(hops) == 0


async def test_unreserved_row_is_not_held_up() -> None:
    hops = RedirectTargets()
    row = ClaimedPage(id=7, url=URL, depth=2, attempts=0, parent_id=3)
    assert await hops.adopt(row) is None


async def test_row_claimed_before_the_commit_still_adopts_after_it() -> None:
    """The store keeps a row claimed before the commit and drops the redirect's copy: the
    reservation outlives the commit until that row has adopted the result."""
    hops = RedirectTargets()
    assert hops.reserve(URL, owner=1)
    hops.finish(1, _target())
    await hops.committed([_target()], _always_claimed)
    assert len(hops) == 1
    row = ClaimedPage(id=7, url=URL, depth=2, attempts=0, parent_id=3)
    adopted = await hops.adopt(row)
    assert adopted is not None and adopted.page_id == 7
    assert len(hops) == 0
