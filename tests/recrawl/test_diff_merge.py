"""The diff of two sessions as service/diff.py computes it: two URL-ordered streams merged, each
URL classified (units: streams of PageState built here)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tui_scraper.domain import PageStatus
from tui_scraper.domain.records import PageState
from tui_scraper.service.diff import merge_states, page_text, summarize, text_diff


def done(url: str, content: str, http: int = 200) -> PageState:
    return PageState(url, PageStatus.DONE, http, content, f"blobs/{content}")


def failed(url: str, http: int | None) -> PageState:
    return PageState(url, PageStatus.FAILED, http, None, None)


async def stream(states: list[PageState]) -> AsyncIterator[PageState]:
    for state in sorted(states, key=lambda s: s.url):
        yield state


async def test_every_kind_and_the_304_rule() -> None:
    before = [
        done("a", "h1"),
        done("b", "h2"),
        done("c", "h3"),
        failed("d", 500),
        done("e", "h5"),
        PageState("f", PageStatus.SKIPPED, None, None, None),
        done("z-only-before", "h9"),
    ]
    after = [
        done("a", "h1", http=304),  # unchanged, not a status change
        done("b", "h2b"),  # changed
        failed("c", 404),  # removed, and a status change
        done("d", "h4"),  # added (it failed before), and a status change
        done("e", "h5"),  # unchanged
        PageState("f", PageStatus.FAILED, None, None, None),  # neither stored: status only
        done("m-only-after", "h7"),  # added
    ]
    entries = [e async for e in merge_states(stream(before), stream(after))]
    assert [e.url for e in entries] == sorted({s.url for s in before + after})
    summary = await summarize(merge_states(stream(before), stream(after)))
    assert summary.as_json() == {
        "added": ["d", "m-only-after"],
        "removed": ["c", "z-only-before"],
        "changed": ["b"],
        "unchanged": 2,
        "status_changes": [
            {"url": "c", "from": "200", "to": "404"},
            {"url": "d", "from": "500", "to": "200"},
            {"url": "f", "from": "skipped", "to": "failed"},
        ],
    }
    assert not next(e for e in entries if e.url == "a").differs


async def test_empty_sides() -> None:
    only = [done("x", "h")]
    assert (await summarize(merge_states(stream([]), stream(only)))).added == ["x"]
    assert (await summarize(merge_states(stream(only), stream([])))).removed == ["x"]
    assert [e async for e in merge_states(stream([]), stream([]))] == []


def test_page_text_is_the_visible_text_and_the_diff_is_unified() -> None:
    html = (
        b"<html><head><title>T</title><style>p{}</style></head><body>"
        b"<h1>Head line</h1><script>var x = 1;</script><p>first  para</p>\n<p>caf\xc3\xa9</p>"
        b"</body></html>"
    )
    assert page_text(html, "utf-8") == ["Head line", "first para", "caf\u00e9"]
    assert page_text(b"<p>caf\xe9</p>", "iso-8859-1") == ["caf\u00e9"]
    assert page_text(b"<p>x</p>", "no-such-codec") == ["x"]
    lines = text_diff(["a", "b"], ["a", "c"], before_name="A", after_name="B")
    assert lines == ["--- A", "+++ B", "@@ -1,2 +1,2 @@", " a", "-b", "+c"]
