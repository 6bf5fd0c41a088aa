"""Cheaper page processing, same output: `process_page` against the output recorded before its
per-page work was cut (tests/parse/process_page_reference.json, pages in page_corpus.py)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from page_corpus import REFERENCE, SITE_DIGEST, as_record, corpus, site_digest, site_files, site_job
from selectolax.lexbor import LexborHTMLParser

from tui_scraper.domain import ExtractRule
from tui_scraper.engine.extract import MAX_VALUE_CHARS, count_words, default_fields, extract
from tui_scraper.engine.parse import process_page

_REFERENCE = json.loads(REFERENCE.read_text())
_CORPUS = corpus()


def test_reference_covers_the_whole_corpus() -> None:
    assert sorted(_REFERENCE) == sorted([SITE_DIGEST, *(name for name, _ in _CORPUS)])


def test_every_generated_site_page_gives_the_recorded_output() -> None:
    assert site_digest() == _REFERENCE[SITE_DIGEST]


@pytest.mark.parametrize(("name", "job"), _CORPUS, ids=[name for name, _ in _CORPUS])
def test_process_page_gives_the_recorded_output(name: str, job: object) -> None:
    assert as_record(process_page(job)) == _REFERENCE[name]  # type: ignore[arg-type]


def test_every_generated_site_page_links_as_the_generator_wrote_them() -> None:
    """Each page of the generated site, not only the recorded ones: its in-scope links are the
    generator's targets, canonical, fragment-free, distinct, in document order."""
    for path, body in site_files().items():
        page = process_page(site_job(path, body))
        assert page.refused_links == 0, path
        urls = [url for url, _ in page.links]
        assert len(urls) == len(set(urls)), path
        assert all("#" not in url and url.startswith("http://127.0.0.1:8000/") for url in urls)
        assert page.title and page.fields["title"] == page.title
        assert page.fields["word_count"] > 0 and page.encoding == "utf-8"


_WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")


@settings(max_examples=1000, deadline=None)
@given(
    st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u3000\x00ab\u00e9\u20ac\U0001f600"))
)
@example(" a")
@example("a ")
@example("\x00")
def test_count_words_counts_runs_of_non_ascii_whitespace(text: str) -> None:
    assert count_words(text) == len(_WORD.findall(text))


def _words_by_the_old_formula(tree: LexborHTMLParser) -> int:
    """The word count as it was computed before: every text node, whitespace-only ones too."""
    root = tree.root
    words = len(_WORD.findall(root.text(deep=True, separator=" "))) if root is not None else 0
    for tag in ("title", "script", "style", "noscript", "template"):
        for index, node in enumerate(tree.tags(tag)):
            if tag != "title" or index == 0:
                words -= len(_WORD.findall(node.text(deep=True, separator=" ")))
    return max(words, 0)


_MARKUP = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<div>",
            "</div>",
            "<b>",
            "</b>",
            "<title>",
            "</title>",
            "<script>",
            "</script>",
            "<style>",
            "</style>",
            "<noscript>",
            "</noscript>",
            "<template>",
            "</template>",
            "<!-- c -->",
            "<br>",
            "word",
            "two words",
            "é",
            "\u00a0",
            " ",
            "\n",
            "\n    ",
            "\t",
            "\r\n",
            "\x0c",
            "\x0b",
            "&nbsp;",
            "&#32;",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(_MARKUP)
@example("<p>a</p>\n    <p>b</p>")
def test_word_count_and_texts_equal_the_old_formulas(markup: str) -> None:
    tree = LexborHTMLParser(markup)
    fields = default_fields(tree)
    assert fields["word_count"] == _words_by_the_old_formula(tree)
    for name in ("title", "h1"):
        first = next(iter(tree.tags(name)), None)
        old = None if first is None else _old_clean(first.text(deep=True, separator=" "))
        assert fields[name] == old
    old_rule = [_old_clean(node.text(deep=True, separator=" ")) for node in tree.css("div, p")]
    assert extract(tree, [ExtractRule("blocks", "div, p")])["blocks"] == old_rule


def _old_clean(text: str) -> str:
    return " ".join(text.split())[:MAX_VALUE_CHARS]
