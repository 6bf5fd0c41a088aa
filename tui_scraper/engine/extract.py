"""Default page fields and user extraction rules (`NAME=CSS`, `NAME=CSS@attr`).

Only lexbor's own iterative machinery is used on the tree (`css`, `text`): a Python-recursive walk
dies with RecursionError on a 10,000-deep document.

selectolax is imported where a tree is parsed or a rule is checked, not at the top: the crawl's
coordinator imports this module (the runtime's checks of a new session's rules) and must not
load the parser for a session that has no rule to check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from tui_scraper.domain import ConfigError, ExtractRule

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser

__all__ = [
    "MAX_MATCHES",
    "MAX_VALUE_CHARS",
    "count_words",
    "default_fields",
    "extract",
    "node_text",
    "resource_links",
    "validate_rules",
]

# Bounds on what one page can put into `extracted_data`: a hostile page with 10^6 matching nodes
# must not produce a 100 MB JSON row.
MAX_MATCHES = 10_000
MAX_VALUE_CHARS = 10_000

_PROBE_HTML = "<html><head></head><body><p>probe</p></body></html>"
# Elements whose text is not page prose.
_NOT_PROSE = ["script", "style", "noscript", "template"]


def validate_rules(rules: Sequence[ExtractRule]) -> None:
    """Raise ConfigError("extract", ...) naming the first selector lexbor cannot parse.

    lexbor reports a bad selector by raising `selectolax.lexbor.SelectolaxError("Can't parse CSS
    selector.")` from `css()` (verified with "a[", "p >", "::foo", "" ...), so we run each selector
    once against a tiny document when the session is created.
    """
    if not rules:
        return
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    probe = LexborHTMLParser(_PROBE_HTML)
    for rule in rules:
        if not rule.css.strip():
            raise ConfigError("extract", f"rule {rule.name!r} has an empty selector")
        try:
            probe.css(rule.css)
        except (SelectolaxError, ValueError, TypeError) as exc:
            raise ConfigError(
                "extract", f"rule {rule.name!r}: invalid CSS selector {rule.css!r} ({exc})"
            ) from None


def _clean(text: str) -> str:
    # Collapse runs of whitespace: stored values are meant to be read, not re-rendered.
    return " ".join(text.split())[:MAX_VALUE_CHARS]


def node_text(node: Any) -> str:
    # Whitespace-only text nodes (indentation) vanish in _clean anyway: lexbor skips them.
    return _clean(node.text(deep=True, separator=" ", strip=False, skip_empty=True))


def extract(tree: LexborHTMLParser, rules: Sequence[ExtractRule]) -> dict[str, list[str]]:
    """Every match of every rule: its text, or the named attribute (matches without it skipped)."""
    result: dict[str, list[str]] = {}
    if not rules:
        return result
    from selectolax.lexbor import SelectolaxError  # loaded already: `tree` is lexbor's

    for rule in rules:
        values: list[str] = []
        try:
            nodes = tree.css(rule.css)
        except SelectolaxError:
            nodes = []  # validated at session creation; a stale stored rule must not kill a crawl
        for node in nodes[:MAX_MATCHES]:
            if rule.attr is None:
                values.append(node_text(node))
            else:
                value = node.attributes.get(rule.attr)
                if value is not None:
                    values.append(value[:MAX_VALUE_CHARS])
        result[rule.name] = values
    return result


# Which elements name a page's resources, by the attribute holding the URL, and the media-type
# families their files usually have: `--download 'image/*'` then follows <img>, not <script>.
_RESOURCE_TAGS: Final = (
    ("img", "src", frozenset({"image"})),
    ("source", "src", frozenset({"image", "video", "audio"})),
    ("video", "src", frozenset({"video"})),
    ("video", "poster", frozenset({"image"})),
    ("audio", "src", frozenset({"audio"})),
    ("script", "src", frozenset({"application", "text"})),
    ("embed", "src", frozenset({"application", "image", "video", "audio"})),
)
# <link rel=...> kinds that name a file the page uses (not another page: canonical, next ...).
_LINK_RESOURCES: Final = {
    "stylesheet": frozenset({"text"}),
    "icon": frozenset({"image"}),
    "apple-touch-icon": frozenset({"image"}),
    "preload": frozenset({"image", "font", "text", "application", "audio", "video"}),
    "manifest": frozenset({"application"}),
}


def resource_links(
    tree: LexborHTMLParser,
    download: Sequence[str],
    resolve: Callable[[str], str | None],
) -> list[str]:
    """Canonical URLs of the page's resources (<img src>, <script src>, <link rel=stylesheet>,
    <source>, …) whose usual media-type family a download pattern asks for.

    They become downloads, never pages: <a>/<area> stay the only links that are crawled.
    """
    wanted = {pattern.split("/", 1)[0] for pattern in download}
    urls: list[str] = []
    seen: set[str] = set()

    def add(raw: str | None) -> None:
        if raw and raw not in seen:
            seen.add(raw)
            url = resolve(raw.strip())
            if url is not None:
                urls.append(url)

    for tag, attr, families in _RESOURCE_TAGS:
        if wanted.isdisjoint(families):
            continue
        for node in tree.tags(tag):
            add(node.attrs.get(attr))
    for node in tree.tags("link"):
        attrs = node.attrs
        for rel in (attrs.get("rel") or "").lower().split():
            kinds = _LINK_RESOURCES.get(rel)
            if kinds is not None and not wanted.isdisjoint(kinds):
                add(attrs.get("href"))
                break
    return urls


def _first_tag(tree: LexborHTMLParser, tag: str) -> Any:
    for node in tree.tags(tag):
        return node
    return None


def _tag_attr(tree: LexborHTMLParser, tag: str, key: str, word: str, attr: str) -> str | None:
    """The `attr` of the first <tag> whose `key` attribute holds `word` (case-insensitive, as a
    space-separated token: rel="alternate canonical" counts)."""
    for node in tree.tags(tag):
        attrs = node.attrs  # reads one attribute; `attributes` would build a dict of them all
        keyed = attrs.get(key)
        if keyed and word in keyed.lower().split():
            value = attrs.get(attr)
            if value is not None:
                return value.strip()[:MAX_VALUE_CHARS]
    return None


def _root_lang(tree: LexborHTMLParser) -> str | None:
    """The lang of the first <html> element: the document element, without a tree walk."""
    root = tree.root
    first = root if root is not None and root.tag == "html" else _first_tag(tree, "html")
    if first is None:
        return None
    value = first.attrs.get("lang")
    return None if value is None else value.strip()[:MAX_VALUE_CHARS]


def count_words(text: str) -> int:
    """Number of words: runs of characters other than ASCII whitespace (" \\t\\n\\r\\v\\f").

    `len(text.split())` allocates one string per word (a 30 KB page: thousands), and splits on
    Unicode spaces too. Here each byte of the UTF-8 text becomes 1 (word) or 0 (space), the bytes
    one big-endian integer, and a word starts at each 1 whose previous byte (8 bits up) is 0:
    `(n ^ (n >> 8)) & n` keeps those bits and bit_count counts them. Each step is one pass in C,
    cheaper than searching the marks for a two-byte boundary.
    """
    if not text:
        return 0
    marks = int.from_bytes(text.encode("utf-8", "surrogatepass").translate(_WORD_TABLE), "big")
    return ((marks ^ (marks >> 8)) & marks).bit_count()


_WORD_TABLE = bytes(0 if b in b" \t\n\r\x0b\x0c" else 1 for b in range(256))


def default_fields(tree: LexborHTMLParser, *, outlinks: int | None = None) -> dict[str, Any]:
    """title, description, h1, canonical, lang, word_count, outlinks.

    `outlinks` is the number of distinct http(s) links when the caller has counted them already
    (process_page does); otherwise the number of <a href> elements.
    The tree is not modified, so this may run before or after user rules.
    """
    # tags() walks elements in C; css_first() would compile a selector on every call, and these
    # fields run for every page (profile: default_fields cost as much as the parse itself).
    title_node = _first_tag(tree, "title")
    # The title's text is read once: for the field and for the words it takes from the count.
    title_text = (
        title_node.text(deep=True, separator=" ", skip_empty=True)
        if title_node is not None
        else None
    )
    title = _clean(title_text) if title_text is not None else None
    h1_node = _first_tag(tree, "h1")
    h1 = node_text(h1_node) if h1_node is not None else None
    if outlinks is None:
        outlinks = sum(1 for node in tree.tags("a") if node.attrs.get("href"))
    # Words of the document's prose: all text minus the title and the text of script-like elements.
    # (Cheaper than strip_tags(), which runs one CSS query per tag and mutates the tree.)
    # Text nodes are joined by a space, so the count is the sum of their counts: the ones of only
    # whitespace (an indented page's line breaks and indents, often most of its text) count 0
    # and are left out of the text to count.
    words = 0
    if tree.root is not None:
        words = count_words(tree.root.text(deep=True, separator=" ", skip_empty=True))
    if title_text is not None:
        words -= count_words(title_text)
    for tag in _NOT_PROSE:
        for node in tree.tags(tag):
            words -= count_words(node.text(deep=True, separator=" ", skip_empty=True))
    return {
        "title": title,
        "description": _tag_attr(tree, "meta", "name", "description", "content"),
        "h1": h1,
        "canonical": _tag_attr(tree, "link", "rel", "canonical", "href"),
        "lang": _root_lang(tree),
        "word_count": max(words, 0),
        "outlinks": outlinks,
    }
