"""The Fetcher's conditional request: the validators go with the first request only (they are
the requested URL's, not its redirect target's), and a 304 comes back as an answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.engine.site import page_html
from tui_scraper.engine.fetch import Fetcher

from .site import ChangingSite


def _all(_content_type: str) -> bool:
    return True


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    server = ChangingSite.of({"/page": page_html("Page", [])})
    server.redirects["/moved"] = "/page"
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    f = Fetcher(
        concurrency=2,
        user_agent="test-bot/1",
        request_timeout=5,
        max_body_bytes=1 << 20,
        allow_private=True,
    )
    yield f
    await f.aclose()


async def test_a_match_answers_304_and_a_mismatch_200(site: ChangingSite, fetcher: Fetcher) -> None:
    etag = site.pages["/page"].etag
    unchanged = await fetcher.fetch(
        site.url("/page"), want_body=_all, conditional={"If-None-Match": etag}
    )
    assert unchanged.status_code == 304 and not unchanged.body
    assert unchanged.headers["etag"] == etag
    since = site.pages["/page"].last_modified
    by_date = await fetcher.fetch(
        site.url("/page"), want_body=_all, conditional={"If-Modified-Since": since}
    )
    assert by_date.status_code == 304
    changed = await fetcher.fetch(
        site.url("/page"), want_body=_all, conditional={"If-None-Match": '"old"'}
    )
    assert changed.status_code == 200 and changed.body and b"Page" in changed.body
    plain = await fetcher.fetch(site.url("/page"), want_body=_all)
    assert plain.status_code == 200
    assert [asked for _path, _status, asked in site.log] == [True, True, True, False]


async def test_conditions_are_not_sent_to_a_redirect_target(
    site: ChangingSite, fetcher: Fetcher
) -> None:
    etag = site.pages["/page"].etag
    response = await fetcher.fetch(
        site.url("/moved"), want_body=_all, conditional={"If-None-Match": etag}
    )
    # Had the condition followed the redirect, the target would have answered 304.
    assert response.status_code == 200 and response.redirects == [site.url("/page")]
    assert site.log == [("/moved", 301, True), ("/page", 200, False)]
