"""The shortcuts in urls.py give exactly what the full paths give.

`canonicalize` takes plain references ("p1.html", "/a/b#x") straight to their canonical form and
`Scope.check` skips splitting a URL of the site into parts; `canonicalize_full` and
`Scope.check_full` are the component-by-component paths every other case goes through.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tui_scraper.engine.urls import Scope, _plain_reference, canonicalize, canonicalize_full

# Pieces of hrefs: mostly what plain references are made of, then everything that must send one
# to the full path (dots, escapes, queries, parameters, schemes, whitespace, backslashes, ...).
_PLAIN_CHARS = "abcXYZ019-_~!$&'()*+,=@"
_PIECES = st.one_of(
    st.text(_PLAIN_CHARS, min_size=1, max_size=6),
    st.sampled_from(
        [
            "/",
            "/",
            ".",
            "..",
            "./",
            "../",
            "/.",
            "%7e",
            "%2F",
            "%",
            "?",
            "?b=2&a=1",
            "#",
            "#f",
            ";",
            ";jsessionid=1",
            ":",
            "http:",
            "//",
            "\\",
            " ",
            "\t",
            "\n",
            "\x00",
            "é",
            "[",
            "]",
            "utm_source=x",
            "&",
            "\u20ac",
            "HTTPS://h",
            "mailto:",
        ]
    ),
)
_HREF = st.lists(_PIECES, max_size=8).map("".join)
_BASE = st.one_of(
    st.sampled_from(
        [
            "http://127.0.0.1:8000/",
            "http://127.0.0.1:8000/dir/page.html",
            "http://127.0.0.1:8000/dir/sub/",
            "https://Example.COM:443/a/b?q=1#frag",
            "http://example.com/.well-known/x",
            "http://example.com/%7euser/page",
            "http://example.com/a%2Fb/c",
            "http://example.com/x;jsessionid=1/y;keep=1/z",
            "http://example.com/a/./b/../c/",
            "http://[::1]:8080/v6/",
            "http://user:pw@example.com:80/creds/",
            "http://example.com",
            "mailto:x@example.com",
            "http:///no-host",
            "not a url",
        ]
    ),
    st.builds(
        lambda host, path: f"http://{host}/{path}",
        st.sampled_from(["127.0.0.1:8000", "Example.com", "b\u00fccher.example"]),
        _HREF,
    ),
)


@settings(max_examples=1500, deadline=None)
@given(href=_HREF, base=_BASE)
@example(href="p00250.html", base="http://127.0.0.1:8000/s01/p00249.html")
@example(href="/s05/deep/p01372.html#sec3", base="http://127.0.0.1:8000/s01/")
@example(href="a/.b", base="http://127.0.0.1:8000/d/")
@example(href="x", base="http://example.com/.well-known/x")
def test_canonicalize_equals_the_full_path(href: str, base: str) -> None:
    assert canonicalize(href, base) == canonicalize_full(href, base)


def test_plain_references_take_the_fast_path() -> None:
    base = "http://127.0.0.1:8000/s01/p00249.html"
    for href in ("p00250.html", "deep/p1.html#sec3", "/s05/deep/p01372.html", "/", "a//b"):
        fast = _plain_reference(href, base)
        assert fast is not None and fast == canonicalize_full(href, base)
    for href in ("", "#top", "./x", "../x", "a/./b", "x?q=1", "%7e", "x;sid=1", "a:b", " x"):
        assert _plain_reference(href, base) is None, href
    # A base whose directory canonicalisation would touch: left to the full path.
    assert _plain_reference("x", "http://127.0.0.1:8000/a%2Fb/") is None
    assert _plain_reference("/x", "http://127.0.0.1:8000/a%2Fb/") == "http://127.0.0.1:8000/x"


_SCOPES = [
    Scope.build("http://127.0.0.1:8000/"),
    Scope.build("https://example.com/"),
    Scope.build("http://[::1]:8080/"),
    Scope.build("http://www.example.com/", mode="domain"),
    Scope.build("http://example.com/", mode="any"),
    Scope.build("http://example.com/", include=[r"/(a|b)"], exclude=[r"\?x="], max_depth=3),
]
_URL_START = st.sampled_from(
    [
        "http://127.0.0.1:8000",
        "https://127.0.0.1:8000",
        "http://127.0.0.1",
        "http://127.0.0.1:80",
        "http://example.com",
        "https://example.com",
        "http://example.com:443",
        "https://example.com:8443",
        "http://sub.example.com",
        "http://[::1]:8080",
        "https://[::1]:8080",
        "http://[::1]",
        "ftp://example.com",
        "http://example.com.evil",
        "http:/",
        "",
    ]
)
_URL_REST = st.lists(
    st.sampled_from(["/", "/a", "/b", "/a/a", "/s" * 3, "?x=1", "&y", "/" + "x" * 700, "://"]),
    max_size=25,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(
    scope=st.sampled_from(_SCOPES),
    start=_URL_START,
    rest=_URL_REST,
    depth=st.integers(0, 5),
)
@example(scope=_SCOPES[0], start="http://127.0.0.1:8000", rest="/a/a/a", depth=1)
def test_check_equals_the_full_path(scope: Scope, start: str, rest: str, depth: int) -> None:
    url = start + rest
    assert scope.check(url, depth) == scope.check_full(url, depth)
