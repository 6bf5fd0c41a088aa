"""Canonical URLs and scope (T17)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_scraper.domain import CrawlConfig
from tui_scraper.engine.urls import Scope, canonicalize

BASE = "http://example.com/dir/sub/page.html?old=1"

CANONICAL = [
    # scheme and host case, fragment, empty path
    ("HTTP://Example.COM/a#frag", None, "http://example.com/a"),
    ("HTTPS://EXAMPLE.COM/A/b", None, "https://example.com/A/b"),
    ("http://example.com", None, "http://example.com/"),
    ("http://example.com?x=1", None, "http://example.com/?x=1"),
    ("http://example.com/a?", None, "http://example.com/a"),
    ("http://example.com/a#", None, "http://example.com/a"),
    # default ports dropped, others kept
    ("http://example.com:80/x", None, "http://example.com/x"),
    ("https://example.com:443/x", None, "https://example.com/x"),
    ("http://example.com:443/x", None, "http://example.com:443/x"),
    ("https://example.com:8443/x", None, "https://example.com:8443/x"),
    ("http://example.com:0080/x", None, "http://example.com/x"),
    ("http://example.com:/x", None, "http://example.com/x"),
    # dot segments
    ("http://example.com/a/./b/../c", None, "http://example.com/a/c"),
    ("http://example.com/a/b/..", None, "http://example.com/a/"),
    ("http://example.com/../../x", None, "http://example.com/x"),
    ("http://example.com/a/%2e%2E/c", None, "http://example.com/c"),
    ("http://example.com/a/.hidden", None, "http://example.com/a/.hidden"),
    # percent-encoding
    ("http://example.com/%7euser/%7Ea", None, "http://example.com/~user/~a"),
    ("http://example.com/a%2fb%3a", None, "http://example.com/a%2Fb%3A"),
    ("http://example.com/%41%42c", None, "http://example.com/ABc"),
    ('http://example.com/a b<>"', None, "http://example.com/a%20b%3C%3E%22"),
    ("http://example.com/100%", None, "http://example.com/100%25"),
    ("http://example.com/%zz", None, "http://example.com/%25zz"),
    ("http://example.com/ä", None, "http://example.com/%C3%A4"),
    ("http://example.com/?q=a b&r=ü", None, "http://example.com/?q=a%20b&r=%C3%BC"),
    ("http://example.com/a:b@c!$'()*+,;=", None, "http://example.com/a:b@c!$'()*+,;="),
    ("http://example.com/?a=1+2&b=%2B", None, "http://example.com/?a=1+2&b=%2B"),
    # query order (stable for repeated names), empty parameters
    ("http://example.com/?b=2&a=1", None, "http://example.com/?a=1&b=2"),
    ("http://example.com/?b=2&a=1&a=0", None, "http://example.com/?a=1&a=0&b=2"),
    ("http://example.com/?b=2&&a=1&", None, "http://example.com/?a=1&b=2"),
    # case kept in path and query
    ("http://example.com/D/a?Q=A", None, "http://example.com/D/a?Q=A"),
    ("http://example.com/d/a?q=a", None, "http://example.com/d/a?q=a"),
    # relative references
    ("b.html", BASE, "http://example.com/dir/sub/b.html"),
    ("../b.html", BASE, "http://example.com/dir/b.html"),
    ("../../../../b.html", BASE, "http://example.com/b.html"),
    ("./", BASE, "http://example.com/dir/sub/"),
    ("/x?y=1#z", BASE, "http://example.com/x?y=1"),
    ("?q=1", BASE, "http://example.com/dir/sub/page.html?q=1"),
    ("#top", BASE, "http://example.com/dir/sub/page.html?old=1"),
    ("", BASE, "http://example.com/dir/sub/page.html?old=1"),
    ("//other.example/x", "https://example.com/", "https://other.example/x"),
    ("HTTP://Other.Example", BASE, "http://other.example/"),
    ("https://example.com/abs", BASE, "https://example.com/abs"),
    ("  /spaced \n", BASE, "http://example.com/spaced"),
    ("/a\tb\nc", BASE, "http://example.com/abc"),
    ("sub\\file.html", BASE, "http://example.com/dir/sub/sub/file.html"),
    ("x", "http://Example.com:80", "http://example.com/x"),
    # IDN
    ("http://Bücher.example/", None, "http://xn--bcher-kva.example/"),
    ("http://bücher.example/", None, "http://xn--bcher-kva.example/"),
    # session and tracking parameters
    (
        "http://example.com/a;jsessionid=ABC123?x=1&PHPSESSID=z&utm_source=y&sid=1&sessionid=2",
        None,
        "http://example.com/a?x=1",
    ),
    ("http://example.com/?utm_campaign=x&UTM_medium=y", None, "http://example.com/"),
    ("http://example.com/a;JSESSIONID=1;v=2/b", None, "http://example.com/a;v=2/b"),
    ("http://example.com/?side=1&sidx=2", None, "http://example.com/?side=1&sidx=2"),
    # userinfo dropped; IPv6; trailing dot kept
    ("http://user:pw@example.com/", None, "http://example.com/"),
    ("http://[::1]:8080/x", None, "http://[::1]:8080/x"),
    ("http://[::1]:80/x", None, "http://[::1]/x"),
    ("http://example.com./", None, "http://example.com./"),
    ("http://example.com\\a\\b?c\\d", None, "http://example.com/a/b?c%5Cd"),
]

NOT_FETCHABLE = [
    "mailto:someone@example.com",
    "javascript:void(0)",
    "JavaScript:alert(1)",
    "data:text/html,<p>x</p>",
    "file:///etc/passwd",
    "ftp://example.com/file",
    "tel:+15551234",
    "http://example.com:99999/",
    "http://example.com:8x/",
    "http://:80/",
    "http:///x",
    "http://exa mple.com/",
    "http://exa<mple.com/",
    "http://[::1/",
    "http://[zz::1]/",
    "",
    "   ",
]


@pytest.mark.parametrize(("url", "base", "expected"), CANONICAL)
def test_canonicalize_table(url: str, base: str | None, expected: str) -> None:
    assert canonicalize(url, base) == expected
    # canonical output is a fixed point, with or without a base
    assert canonicalize(expected) == expected
    assert canonicalize(expected, BASE) == expected


@pytest.mark.parametrize("url", NOT_FETCHABLE)
def test_not_fetchable_is_none(url: str) -> None:
    assert canonicalize(url) is None
    if url.strip():
        assert canonicalize(url, BASE) is None


def test_relative_without_base_is_none() -> None:
    assert canonicalize("/a") is None
    assert canonicalize("a.html") is None
    assert canonicalize("/a", "mailto:x@y") is None


def test_equivalent_spellings_collapse() -> None:
    spellings = [
        "http://example.com/p?a=1&b=2",
        "http://EXAMPLE.com:80/p?b=2&a=1#frag",
        "http://example.com/x/../p?a=1&b=2&utm_source=news",
        "/p?b=2&a=1",
        "./../p?a=%31&b=2",
    ]
    assert {canonicalize(u, "http://example.com/x/") for u in spellings} == {
        "http://example.com/p?a=1&b=2"
    }


_PATH_CHARS = st.sampled_from(
    [*"abcXYZ019-._~/%;=&?#@:+,!$'()* ", "..", ".", "%2e", "%2F", "%41", "%7e", "é", "ü", "\\"]
)
_HOSTS = st.sampled_from(
    ["example.com", "EXAMPLE.com", "a-b.example.org", "bücher.de", "127.0.0.1", "[::1]", "x"]
)


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "HtTpS"]),
    host=_HOSTS,
    port=st.sampled_from(["", ":80", ":443", ":8080", ":0"]),
    tail=st.lists(_PATH_CHARS, max_size=25).map("".join),
)
def test_canonicalize_is_idempotent(scheme: str, host: str, port: str, tail: str) -> None:
    url = f"{scheme}://{host}{port}/{tail}"
    once = canonicalize(url)
    if once is not None:
        assert canonicalize(once) == once
        assert canonicalize(once, "http://other.example/") == once
        assert once.startswith(("http://", "https://"))
        assert "#" not in once


@settings(max_examples=200, deadline=None)
@given(tail=st.lists(_PATH_CHARS, max_size=20).map("".join))
def test_relative_resolution_is_idempotent(tail: str) -> None:
    once = canonicalize(tail, "https://example.com/a/b/c.html?q=1")
    if once is not None:
        assert canonicalize(once) == once


# --------------------------------------------------------------------------------------------------
# Scope

HOST = Scope.build("http://example.com/start")
HOST_PORT = Scope.build("http://127.0.0.1:8000/")
DOMAIN = Scope.build("https://www.example.com/", mode="domain")
ANY = Scope.build("http://example.com/", mode="any")
FILTERED = Scope.build(
    "http://example.com/", include=(r"/docs/",), exclude=(r"\.pdf$",), max_depth=2
)

SCOPE_TABLE = [
    (HOST, "http://example.com/a", 1, None),
    (HOST, "https://example.com/a", 1, None),  # http <-> https on default ports: same site
    (HOST, "http://example.com:8080/a", 1, "out of scope"),
    (HOST, "http://sub.example.com/a", 1, "out of scope"),
    (HOST, "http://other.org/", 1, "out of scope"),
    (HOST_PORT, "http://127.0.0.1:8000/x", 1, None),
    (HOST_PORT, "https://127.0.0.1:8000/x", 1, None),
    (HOST_PORT, "http://127.0.0.1/x", 1, "out of scope"),
    (HOST_PORT, "http://127.0.0.1:8001/x", 1, "out of scope"),
    (HOST_PORT, "http://localhost:8000/x", 1, "out of scope"),
    (DOMAIN, "https://example.com/x", 1, None),
    (DOMAIN, "http://blog.example.com/", 1, None),
    (DOMAIN, "https://www.example.com/", 1, None),
    (DOMAIN, "https://badexample.com/", 1, "out of scope"),
    (DOMAIN, "https://example.com.evil.org/", 1, "out of scope"),
    (DOMAIN, "https://example.com:8443/", 1, "out of scope"),
    (ANY, "https://anything.example.net:444/x", 1, None),
    (FILTERED, "http://example.com/docs/a", 2, None),
    (FILTERED, "http://example.com/docs/a", 3, "too deep"),
    (FILTERED, "http://example.com/blog/a", 1, "not included"),
    (FILTERED, "http://example.com/docs/a.pdf", 1, "excluded by pattern"),
    # traps
    (HOST, "http://example.com/" + "a" * 2100, 1, "url too long"),
    (ANY, "http://example.com/a/a/b", 1, None),
    (ANY, "http://example.com/a/a/a", 1, "repeated path segments"),
    (ANY, "http://example.com/x/a/a/a/y", 1, "repeated path segments"),
    (ANY, "http://example.com/" + "/".join(f"s{i}" for i in range(20)), 1, None),
    (
        ANY,
        "http://example.com/" + "/".join(f"s{i}" for i in range(21)),
        1,
        "too many path segments",
    ),
    (ANY, "http://example.com/?" + "&".join(f"p{i}=1" for i in range(30)), 1, None),
    (
        ANY,
        "http://example.com/?" + "&".join(f"p{i}=1" for i in range(31)),
        1,
        "too many query params",
    ),
]


@pytest.mark.parametrize(("scope", "url", "depth", "reason"), SCOPE_TABLE)
def test_scope_table(scope: Scope, url: str, depth: int, reason: str | None) -> None:
    assert scope.check(url, depth) == reason


def test_scope_from_config_and_pickle() -> None:
    cfg = CrawlConfig(
        target_url="http://WWW.Example.com:8080/start",
        scope="domain",
        include=("/a",),
        exclude=("/a/private",),
        max_depth=3,
    ).validate()
    scope = Scope.from_config(cfg)
    assert (scope.host, scope.port, scope.domain) == ("www.example.com", "8080", "example.com")
    clone = pickle.loads(pickle.dumps(scope))
    assert clone == scope
    assert clone.check("http://cdn.example.com:8080/a/x", 3) is None
    assert clone.check("http://cdn.example.com:8080/a/private/x", 3) == "excluded by pattern"
    assert clone.check("http://cdn.example.com:8080/b", 3) == "not included"
    assert clone.check("http://cdn.example.com:8080/a/x", 4) == "too deep"


def test_scope_rejects_bad_seed() -> None:
    with pytest.raises(ValueError):
        Scope.build("ftp://example.com/")
    with pytest.raises(ValueError):
        Scope.build("http://example.com/", mode="galaxy")
