"""display_safe and friends: untrusted text cannot reach the terminal as markup or escapes."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.content import Content

from tui_scraper.ui.text import (
    display_safe,
    human_bytes,
    human_duration,
    human_ms,
    human_time,
    labelled,
    safe_content,
    safe_text,
)
from tui_scraper.ui.widgets.tail import new_tail

from .conftest import HOSTILE, HOSTILE_SHOWN


@pytest.mark.parametrize(("raw", "shown"), list(zip(HOSTILE, HOSTILE_SHOWN, strict=True)))
def test_display_safe_neutralises_every_payload(raw: str, shown: str) -> None:
    assert display_safe(raw) == shown
    assert "\x1b" not in display_safe(raw)
    assert "\u202e" not in display_safe(raw)


def test_display_safe_whitespace_and_limits() -> None:
    assert display_safe("a\tb\nc\rd\u00a0e") == "a b c d e"
    assert display_safe("\u200bx\u200d") == "\ufffdx\ufffd"
    assert display_safe("x" * 10, limit=4) == "xxxx…"
    assert display_safe(None) == ""
    assert display_safe(42) == "42"
    assert display_safe("C:\\dir\\") == "C:\\dir\\"


@pytest.mark.parametrize("raw", HOSTILE)
def test_renderables_are_literal(raw: str) -> None:
    text = safe_text(raw)
    assert isinstance(text, Text)
    assert text.plain == display_safe(raw)
    assert not text.spans  # no style, no @click meta came from the payload
    content = safe_content(raw)
    assert isinstance(content, Content)
    assert content.plain == display_safe(raw)
    assert not content.spans


def test_labelled_keeps_our_styles_and_their_text_plain() -> None:
    content = labelled(("Target ", "bold"), "[@click=app.quit]x[/]")
    assert content.plain == "Target [@click=app.quit]x[/]"
    assert [(s.start, s.end) for s in content.spans] == [(0, 7)]


def test_human_formats() -> None:
    assert human_bytes(None) == "–"
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_250_000) == "1.2 MB"
    assert human_duration(59) == "00:59"
    assert human_duration(3725) == "1:02:05"
    assert human_ms(12.4) == "12 ms"
    assert human_ms(12_500) == "12.5 s"
    assert human_time(None) == "–"
    assert len(human_time(1_767_261_600.0, now=1_767_261_600.0)) == 8  # HH:MM:SS today
    assert len(human_time(1_767_261_600.0, now=1_767_261_600.0 + 86_400 * 3)) == 16
    assert len(human_time(1_767_261_600.0, now=1_767_261_600.0, short=True)) == 5


def test_new_tail() -> None:
    assert new_tail([], [1, 2]) == [1, 2]
    assert new_tail([1, 2], [1, 2]) == []
    assert new_tail([1, 2, 3], [2, 3, 4, 5]) == [4, 5]  # window moved by one, two appended
    assert new_tail([1, 2], [7, 8]) == [7, 8]  # no overlap: all new
    assert new_tail(["a", "a"], ["a", "a", "a"]) == ["a"]  # repeats count


def test_short_url_never_raises_on_a_malformed_host() -> None:
    from tui_scraper.ui.text import short_url

    assert short_url("http://[@click=app.quit]x[/]/p", 40) == "http://[@click=app.quit]x[/]/p"
    assert short_url("http://demo.test/p", 40, home="http://[x]/") == "demo.test/p"
