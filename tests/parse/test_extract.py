"""Default fields, user rules, selector validation, and the page processor's links."""

from __future__ import annotations

import hashlib

import pytest
from selectolax.lexbor import LexborHTMLParser

from tui_scraper.domain import ConfigError, CrawlConfig, ExtractRule
from tui_scraper.domain.config import BUILTIN_FIELDS
from tui_scraper.engine.extract import count_words, default_fields, extract, validate_rules
from tui_scraper.engine.parse import NOT_HTTP, PageJob, process_page
from tui_scraper.engine.urls import Scope, canonicalize

DOC = """<!doctype html>
<html lang="en-GB"><head>
<title>  The   Title </title>
<META NAME="Description" content=" A page about things. ">
<link rel="stylesheet canonical" href="/canon?b=2&a=1#x">
<base href="/base/dir/">
<script>var notWords = "one two three";</script>
<style>p { color: red }</style>
</head><body>
<h1>First <em>heading</em></h1><h1>Second</h1>
<p class="price" data-sku="A1">10 EUR</p>
<p class="price">20 EUR</p>
<a href="x.html#frag">one</a>
<a href="x.html">one again</a>
<a href="/abs?b=2&a=1">abs</a>
<a href="/abs?a=1&b=2#y">abs again</a>
<a href="https://other.example/">external</a>
<a href="mailto:someone@example.com">mail</a>
<a href="javascript:void(0)">js</a>
<a>no href</a>
<area href="/map-area">
<template><a href="/inside-template">inert</a></template>
<script>more script words here</script>
</body></html>
"""
SCOPE = Scope.build("http://example.com/")


def job(body: bytes, **kw: object) -> PageJob:
    fields: dict[str, object] = {
        "url": "http://example.com/dir/page.html",
        "depth": 2,
        "body": body,
        "charset": None,
        "is_html": True,
        "rules": (),
        "scope": SCOPE,
    }
    fields.update(kw)
    return PageJob(**fields)  # type: ignore[arg-type]


def test_default_fields() -> None:
    tree = LexborHTMLParser(DOC)
    fields = default_fields(tree)
    assert fields["title"] == "The Title"
    assert fields["description"] == "A page about things."
    assert fields["h1"] == "First heading"
    assert fields["canonical"] == "/canon?b=2&a=1#x"
    assert fields["lang"] == "en-GB"
    assert fields["outlinks"] == 7  # <a href> elements, when the caller has not counted
    # body prose only: no title, no script/style text
    words = "First heading Second 10 EUR 20 EUR one one again abs abs again external mail js"
    assert fields["word_count"] == len((words + " no href").split())


def test_default_fields_empty_document() -> None:
    fields = default_fields(LexborHTMLParser(""))
    assert fields["title"] is None
    assert fields["h1"] is None
    assert fields["word_count"] == 0


def test_rules_text_and_attr() -> None:
    tree = LexborHTMLParser(DOC)
    rules = (
        ExtractRule.parse("price=p.price"),
        ExtractRule.parse("sku=p.price@data-sku"),
        ExtractRule.parse("links=a[href^='mailto:x@y'], a.none"),
        ExtractRule.parse("hrefs=a@href"),
        ExtractRule.parse("script=script"),
    )
    assert rules[1].attr == "data-sku"
    assert rules[2].attr is None
    got = extract(tree, rules)
    assert got["price"] == ["10 EUR", "20 EUR"]
    assert got["sku"] == ["A1"]  # matches without the attribute are skipped
    assert got["links"] == []
    assert got["hrefs"][:2] == ["x.html#frag", "x.html"]
    assert got["script"] == ['var notWords = "one two three";', "more script words here"]


@pytest.mark.parametrize("selector", ["a[", "p >", "::foo", "div::text", ":nth-child(", "!!", "a,"])
def test_bad_selector_is_config_error_naming_it(selector: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_rules([ExtractRule("good", "p.x"), ExtractRule("bad", selector)])
    assert info.value.field == "extract"
    assert repr(selector) in str(info.value)
    assert "bad" in str(info.value)


def test_good_selectors_validate() -> None:
    validate_rules([ExtractRule.parse(s) for s in ("a=h1", "b=a@href", "c=div > p:nth-child(2)")])
    validate_rules([])


def test_count_words() -> None:
    for text in ["", " ", "a", " a  b\tc\n", "héllo wörld ", "x\u00a0y z"]:
        assert count_words(text) == len(text.encode().split())


def test_process_page_links_and_fields() -> None:
    rules = (ExtractRule.parse("price=p.price"), ExtractRule.parse("heading=h1"))
    result = process_page(job(DOC.encode(), rules=rules))
    assert result.encoding == "utf-8"
    assert result.title == "The Title"
    # <base href> is honoured, fragments and query order collapse, depth is +1
    assert result.links == [
        ("http://example.com/base/dir/x.html", 3),
        ("http://example.com/abs?a=1&b=2", 3),
        ("http://example.com/map-area", 3),
    ]
    assert result.refused_by_reason == {"out of scope": 1, NOT_HTTP: 2}
    assert result.refused_links == 3
    assert result.fields["outlinks"] == 4  # distinct http(s) links, in scope or not
    assert result.fields["canonical"] == "http://example.com/canon?a=1&b=2"
    assert result.fields["price"] == ["10 EUR", "20 EUR"]
    assert result.fields["heading"] == ["First heading", "Second"]  # a rule: every match
    assert result.fields["title"] == "The Title"  # a built-in: one string
    assert result.title == "The Title"
    assert result.content_hash == hashlib.sha256(DOC.encode()).hexdigest()
    assert result.storage_path is None
    assert result.size == len(DOC.encode())


def test_process_page_self_link_and_scope_depth() -> None:
    body = b'<a href="page.html">me</a><a href="/deeper">d</a>'
    scope = Scope.build("http://example.com/", max_depth=2)
    result = process_page(job(body, scope=scope))
    assert result.links == []
    assert result.refused_by_reason == {"too deep": 1}


def test_process_page_not_html() -> None:
    result = process_page(job(b"%PDF-1.4 ...", is_html=False))
    assert result.encoding is None
    assert result.links == []
    assert result.size == 12


def test_parse_cap_keeps_full_size_and_hash() -> None:
    head = b"<html><body>" + b'<a href="/early">e</a>' + b"x" * 2000
    body = head + b'<a href="/late">l</a></body></html>'
    result = process_page(job(body, max_parse_bytes=len(head)))
    assert result.truncated
    assert [url for url, _ in result.links] == ["http://example.com/early"]
    assert result.size == len(body)
    assert result.content_hash == hashlib.sha256(body).hexdigest()


def test_deep_nesting_no_recursion_error() -> None:
    depth = 12_000
    body = ("<div>" * depth + '<p class="x">deep</p><a href="/d">d</a>' + "</div>" * depth).encode()
    result = process_page(job(body, rules=(ExtractRule.parse("x=p.x"),)))
    assert result.fields["x"] == ["deep"]
    assert result.links == [("http://example.com/d", 3)]


def test_builtin_field_names_match_default_fields() -> None:
    # The names a user rule may not take are exactly the fields every page gets.
    tree = LexborHTMLParser("<html><head><title>t</title></head><body></body></html>")
    assert set(default_fields(tree)) == set(BUILTIN_FIELDS)


@pytest.mark.parametrize("name", ["title", "h1", "Word_Count", "outlinks"])
def test_rule_named_like_a_builtin_field_is_refused(name: str) -> None:
    config = CrawlConfig("http://127.0.0.1/", extract=(ExtractRule.parse(f"{name}=h2"),))
    with pytest.raises(ConfigError, match="built-in field"):
        config.validate()


RESOURCES = b"""<html><head><link rel="stylesheet" href="/s.css"><link rel="canonical" href="/c">
<link rel="Icon shortcut" href="fav.ico"><script src="/app.js"></script></head><body>
<img src="a.png"><img src="a.png#x"><img src=" /b.png "><img src="data:image/png;base64,AA">
<img src="http://elsewhere.example/c.png"><video poster="/p.jpg"><source src="/v.mp4"></video>
<a href="/page">page</a><img src="/page"></body></html>"""


@pytest.mark.parametrize(
    ("download", "expected"),
    [
        ((), []),
        (
            ("image/*",),
            ["a.png", "/b.png", "/p.jpg", "/v.mp4", "fav.ico"],
        ),
        (("text/css",), ["/app.js", "/s.css"]),
        (("video/mp4",), ["/v.mp4"]),
    ],
)
def test_resources_follow_only_wanted_families(
    download: tuple[str, ...], expected: list[str]
) -> None:
    result = process_page(job(RESOURCES, download=download))
    base = "http://example.com"
    wanted = {canonicalize(path, f"{base}/dir/page.html") for path in expected}
    assert {url for url, _depth in result.resources} == wanted
    assert all(depth == 2 for _url, depth in result.resources)  # the page's own depth
    # <a> stays the only page link; "/page" is one, so its <img> is not a resource too.
    assert [url for url, _depth in result.links] == [f"{base}/page"]
