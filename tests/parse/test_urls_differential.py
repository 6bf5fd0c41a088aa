"""`canonicalize` against `w3lib.url.canonicalize_url` (Scrapy's), where both claim to agree.

The idempotence property passes for a constant function; this one does not: on URLs that both
canonicalisations define the same way, the two must give the same string. The generated URLs
stay inside that common ground, and each exclusion below is a documented difference:
- default ports: we drop them (RFC 3986 §6.2.3), w3lib keeps them;
- userinfo: we drop it (credentials never reach the store), w3lib keeps it;
- query order: we sort by name keeping the order of repeated names, w3lib sorts by (name, value);
  so names are distinct here;
- ";" in a path: w3lib splits it off as (empty) path parameters, we keep the path as written;
- spaces in the query: w3lib writes "+", we write "%20"; session and tracking parameters are
  ours to drop. Neither appears in the generated queries.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from w3lib.url import canonicalize_url

from tui_scraper.engine.urls import canonicalize

_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789ABCXYZ", min_size=1, max_size=8)
_HOST = st.lists(_LABEL, min_size=1, max_size=3).map(".".join).filter(lambda h: not h.isdigit())
_PORT = st.sampled_from(["", ":8080", ":8443", ":1234"])
# Unreserved and a few sub-delimiters, escapes of letters, of reserved and of non-ASCII characters.
_ESCAPES = ["%41", "%7e", "%7E", "%2F", "%3F", "%25", "%C3%A9", "%e2%82%ac", "%20"]
_PATH_PIECE = st.one_of(
    st.text("abcXYZ019-._~!$&'()*+,=:@", min_size=1, max_size=4),
    st.sampled_from([*_ESCAPES, "é", "€", " ", "..", "."]),
)
_SEGMENT = st.lists(_PATH_PIECE, min_size=0, max_size=4).map("".join)
_PATH = st.lists(_SEGMENT, max_size=5).map(lambda parts: "/" + "/".join(parts))
_NAME = st.text("abcdefgxyz", min_size=1, max_size=5).filter(
    lambda name: not name.startswith("utm_") and name not in ("sid",)
)
_VALUE = st.lists(
    st.one_of(st.text("abcXYZ019-._~", min_size=1, max_size=4), st.sampled_from(_ESCAPES[:4])),
    min_size=1,
    max_size=3,
).map("".join)
_QUERY = st.dictionaries(_NAME, _VALUE, max_size=4).map(
    lambda params: "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
)
_FRAGMENT = st.sampled_from(["", "#", "#top", "#a/b?c"])


@settings(max_examples=1000, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=_HOST,
    port=_PORT,
    path=_PATH,
    query=_QUERY,
    fragment=_FRAGMENT,
)
@example(
    scheme="http", host="Example.COM", port="", path="/a/%7e/b", query="?b=2&a=1", fragment="#f"
)
def test_agrees_with_w3lib_where_both_define_the_form(
    scheme: str, host: str, port: str, path: str, query: str, fragment: str
) -> None:
    url = f"{scheme}://{host}{port}{path}{query}{fragment}"
    ours = canonicalize(url)
    assert ours is not None
    assert ours == canonicalize_url(url)
