"""Pages whose `process_page` output is pinned in `process_page_reference.json`.

The reference was recorded from the page processor as it was before its per-page work was made
cheaper; test_parse_exactness.py checks that every page still gives exactly that output (links
and their order, refused counts by reason, title, fields, encoding, resources).

Ordinary pages come from the benchmark site generator; the rest are hostile or odd on purpose:
every kind of href `canonicalize` handles, <base> tricks, encodings, titles and word counts that
differ in whitespace, script-like text, truncation, user rules and download patterns.

    python tests/parse/page_corpus.py --record   # only when the output is MEANT to change
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from tui_scraper.domain import ExtractRule
from tui_scraper.engine.parse import PageJob, ProcessedPage, process_page
from tui_scraper.engine.urls import Scope

REFERENCE = Path(__file__).with_name("process_page_reference.json")
_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(_BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(_BENCHMARKS))

import sitegen  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

ORIGIN = "http://127.0.0.1:8000"
HOST_SCOPE = Scope.build(ORIGIN + "/")

# Generated site pages: the index, both kinds of section index, the list page, leaves.
SITE_PAGES = 300
SITE_DIGEST = "digest of every generated site page"
SITE_PATHS = (
    "/index.html",
    "/s00/index.html",
    "/s00/deep/index.html",
    "/s01/index.html",
    "/lists/page.html",
    "/s00/p00000.html",
    "/s00/p00001.html",
    "/s00/p00037.html",
    "/s00/deep/p00080.html",
    "/s01/p00150.html",
    "/s01/deep/p00240.html",
    "/s01/deep/p00277.html",
)

_HREFS = [
    "",
    "#",
    "#top",
    "?q=1",
    "?b=2&a=1&utm_source=x",
    "x.html",
    "x.html#frag",
    "./x.html",
    "../up.html",
    "../../../../above-root.html",
    "sub/./dir/../page.html",
    "/abs",
    "/abs?b=2&a=1",
    "/abs?a=1&b=2#y",
    "/p%7e/%41b%2fc%3F",
    "/p%zz/%",
    "/p%2e%2e/x",
    "/caf\u00e9/\u20ac",
    "/with space/and\"quote'<>",
    "/x;jsessionid=ABC;keep=1/y",
    "/q?sid=1&PHPSESSID=2&z=&=&&a",
    "/tab\tin\nside\r",
    "  /padded  ",
    "\x00/nul-padded\x0b",
    "\\back\\slash?x=\\y",
    "//127.0.0.1:8000/protocol-relative",
    "//other.example/elsewhere",
    "http://127.0.0.1:8000/absolute",
    "HTTP://127.0.0.1:8000/UPPER",
    "http:/127.0.0.1:8000/one-slash",
    "http://USER:pw@127.0.0.1:8000/creds",
    "http://127.0.0.1:08000/zero-port",
    "http://127.0.0.1:80/default-port",
    "https://127.0.0.1:443/https-default",
    "http://Example.COM/host-case",
    "http://b\u00fccher.example/idn",
    "http://[::1]:8000/v6",
    "http://[::1/bad-v6",
    "http://127.0.0.1:99999/bad-port",
    "http://127.0.0.1:8000:1/two-ports",
    "http:///no-host",
    "mailto:someone@example.com",
    "javascript:void(0)",
    "data:text/html,hi",
    "tel:+123",
    "ftp://127.0.0.1/file",
    "file:///etc/passwd",
    "1http://weird-scheme",
    "/a/a/a/a/repeated",
    "/" + "/".join(f"s{i}" for i in range(25)),
    "/long?" + "x" * 2100,
    "/many?" + "&".join(f"k{i}=v" for i in range(35)),
    "/deep/next.html",
    "x.html",  # the same href again: counted once
    "./x.html#other",  # another spelling of a link already seen
]


def _anchors(hrefs: list[str]) -> str:
    out = []
    for n, href in enumerate(hrefs):
        quoted = href.replace("&", "&amp;").replace('"', "&quot;")
        out.append(f'<a href="{quoted}">link {n}</a>')
    return "\n".join(out)


LINKS_PAGE = (
    "<!doctype html><html lang=' en-GB '><head><title>\n Links \t of  every &amp; kind </title>"
    "<meta NAME='Description' content='  Every href shape.  '>"
    "<link rel='alternate CANONICAL' href='../canon?b=2&amp;a=1#x'>"
    "</head><body><h1>All <em>the</em>\n links</h1>"
    + _anchors(_HREFS)
    + "<area href='/map-area'><area href='mailto:x@y'><area>"
    + "<a>no href</a><a href=''>empty</a>"
    + "<template><a href='/inside-template'>inert</a></template>"
    + "<noscript>no script words here</noscript>"
    + "<script>var notWords = 'one two three';</script><style>p{color:red}</style>"
    + "</body></html>"
)

FIELDS_PAGE = (
    "<html><head><TITLE>First\u00a0title</TITLE><title>second title</title>"
    "<meta name='keywords' content='x'><meta name='description'>"
    "<meta name='DESCRIPTION' content='\t desc two\n'>"
    "<link rel='stylesheet' href='/s.css'><link rel='canonical'>"
    "<link rel='canonical' href='mailto:canon@example.com'>"
    "</head><body>"
    "<h1></h1><h1>second h1</h1>"
    "<p>words\u00a0with\u2003unicode\u3000spaces and  ascii\tones\n\x0bhere\x0c.</p>"
    "<!-- a comment with words --><p>caf\u00e9 na\u00efve \U0001f600 emoji</p>"
    "<template>template words one two</template><noscript>noscript words</noscript>"
    "<script>script words</script><style>style words</style>"
    "<div><script>nested <b>script</b></script>text after</div>"
    "</body></html>"
)

NO_TITLE_PAGE = "<p>only a paragraph, no head, no title, no h1</p><a href=rel>rel</a>"
EMPTY_TITLE_PAGE = "<html lang><head><title></title></head><body>x</body></html>"
TITLE_IN_BODY_PAGE = "<html><body><p>before</p><title>late  title</title><p>after</p></body></html>"

BASE_PAGE = (
    "<html><head><base href='/base/dir/'><base href='/second/'><title>base</title></head><body>"
    "<a href='rel.html'>r</a><a href='../up'>u</a><a href='/root'>a</a><a href='?q'>q</a>"
    "<a href=''>empty</a><a href='#f'>f</a></body></html>"
)
BAD_BASE_PAGE = (
    "<html><head><base href='mailto:x@example.com'><title>bad base</title></head><body>"
    "<a href='rel.html'>r</a><link rel=canonical href='canon'></body></html>"
)
EMPTY_BASE_PAGE = "<html><head><base href=''><base href='/later/'></head><a href='r'>r</a></html>"
OTHER_HOST_BASE_PAGE = (
    "<html><head><base href='http://other.example/b/'></head>"
    "<body><a href='r'>r</a><a href='/s'>s</a><link rel=canonical href='c'></body></html>"
)

RESOURCES_PAGE = (
    "<html><head><title>resources</title>"
    "<link rel='stylesheet' href='/style.css'><link rel='ICON shortcut' href='/favicon.ico'>"
    "<link rel='preload' href='/font.woff2'><link rel='manifest' href='/app.webmanifest'>"
    "<link rel='next' href='/page2'><link rel='apple-touch-icon' href='/touch.png'>"
    "<script src='/app.js'></script><script src='/app.js'></script>"
    "</head><body>"
    "<img src='a.png'><img src=' a.png '><img src='/b.png#x'><img src='mailto:x'><img>"
    "<img src='http://other.example/c.png'><img src='/p.html'>"
    "<picture><source src='/d.webp'></picture><video src='/v.mp4' poster='/poster.jpg'></video>"
    "<audio src='/a.mp3'></audio><embed src='/doc.pdf'>"
    "<a href='/p.html'>page</a><a href='a.png'>linked image</a>"
    "</body></html>"
)

RULES_PAGE = (
    "<html><head><title>rules</title></head><body><h1>Head</h1>"
    "<p class='price' data-sku='A1'> 10\n EUR </p><p class='price'>20 EUR</p>"
    "<p class='price' data-sku=''>30</p>"
    "<ul>" + "".join(f"<li>item {i}</li>" for i in range(12)) + "</ul>"
    "<a href='/x'>x</a></body></html>"
)
RULES = (
    ExtractRule("price", "p.price"),
    ExtractRule("sku", "p.price", "data-sku"),
    ExtractRule("items", "ul > li"),
    ExtractRule("nothing", "div.absent"),
    ExtractRule("title", "h1"),  # a rule named like a built-in field replaces it
    ExtractRule("hrefs", "a", "href"),
    ExtractRule("stale", "a["),  # an invalid selector stored before validation existed
)

CP1251_TEXT = "Это тестовая страница на русском языке, в ней достаточно текста. " * 3
CP1251_PAGE = (
    "<html><head><meta charset='windows-1251'><title>Привет мир</title></head>"
    f"<body><p>{CP1251_TEXT}</p><a href='/страница'>ссылка</a></body></html>"
).encode("cp1251")
SJIS_PAGE = (
    "<html><head><title>こんにちは世界</title></head><body><p>"
    + "これは日本語のテストページです。" * 5
    + "</p><a href='/ページ'>x</a></body></html>"
).encode("shift_jis")
UTF16_PAGE = b"\xff\xfe" + "<title>utf-16 le</title><a href='/u16'>x</a>".encode("utf-16-le")
UTF8_BOM_PAGE = b"\xef\xbb\xbf<title>bom \xe2\x82\xac</title><a href='/bom'>x</a>"
BAD_UTF8_PAGE = b"<title>bad \xff\xfe utf8 \xc3</title><p>caf\xe9 latin-1 words</p><a href=/b>b</a>"
BINARY = bytes(range(256)) * 40
DEEP_PAGE = "<div>" * 10_000 + "deep words here" + "</div>" * 10_000 + "<a href='/deep'>d</a>"
LEXBOR_340_SMALL = (
    "".join(f"<b {i}>" for i in range(60)) + "".join(f"<i {i}>" for i in range(60)) + "x</b>" * 60
)


RICH_ATTRIBUTES_PAGE = (
    "<!DOCTYPE html><HTML LANG='FR'><head><title>rich</title>"
    "<META name='DESCRIPTION' CONTENT='upper-case attribute names'>"
    "<LINK REL='Canonical' HREF='/canon'></head><body>"
    + "".join(
        f"<a class='nav-link item-{i}' id='l{i}' data-track='x{i}' rel='nofollow' "
        f"target='_blank' HREF='{href}'>link {i}</a>"
        for i, href in enumerate(
            [
                "/a?b=1",
                "https://127.0.0.1:8000/https",
                "http://127.0.0.1:8000/abs#f",
                "p.html",
                "#only-fragment",
                "?only=query",
                "/a?b=1",
                "../x/./y",
                "/%7Euser/",
                "q.html#f",
            ]
        )
    )
    + "<a href>no value</a><svg><a xlink:href='/svg-xlink'>s</a><a href='/svg-plain'>p</a>"
    "<title>svg title</title><html lang='xx'></html></svg>"
    "<math><a href='/math'>m</a></math><p>Some words in a rich page.</p></body></HTML>"
)
SVG_FIRST_PAGE = (
    "<html><body><svg><title>svg first</title><base xlink:href='/xlink-base/'></svg>"
    "<base href='/real-base/'><a href='r'>r</a><title>body title</title></body></html>"
)
VALUELESS_PAGE = (
    "<html lang><head><title>valueless</title><meta name><meta name=description content>"
    "<meta name=description content='second'><link rel><link rel=canonical href>"
    "<link rel=canonical href='/second-canon'></head><body><h1>h</h1><a href>x</a></body></html>"
)


INDENTED_PAGE = (
    "<!DOCTYPE html>\n<html>\n  <head>\n    <title>\n      indented\n    </title>\n"
    "    <script>\n      var a = 1;\n    </script>\n  </head>\n  <body>\n    <table>"
    + "".join(
        f"\n      <tr>\n        <td>\n          <a href='/p{i}' class='x'>item {i}</a>\n"
        f"        </td>\n        <td>{i} EUR</td>\n\t\r\f      </tr>"
        for i in range(40)
    )
    + "\n    </table>\n    <noscript>\n      <p>\n        no script\n      </p>\n    </noscript>"
    "\n    <p>\x0b</p><p>\u00a0</p><p> \x0c </p>\n  </body>\n</html>\n"
)


def _job(
    url: str,
    body: bytes | str,
    *,
    depth: int = 1,
    charset: str | None = None,
    is_html: bool = True,
    rules: tuple[ExtractRule, ...] = (),
    scope: Scope = HOST_SCOPE,
    max_parse_bytes: int | None = None,
    download: tuple[str, ...] = (),
) -> PageJob:
    data = body.encode() if isinstance(body, str) else body
    extra: dict[str, Any] = {} if max_parse_bytes is None else {"max_parse_bytes": max_parse_bytes}
    return PageJob(
        url=url,
        depth=depth,
        body=data,
        charset=charset,
        is_html=is_html,
        rules=rules,
        scope=scope,
        blob_sync=False,
        download=download,
        **extra,
    )


def site_files() -> dict[str, bytes]:
    files, _, _ = sitegen.build(SITE_PAGES, seed=1)
    return files


def site_job(path: str, body: bytes) -> PageJob:
    """The job the crawler builds for a page of the benchmark site (nginx sends no charset)."""
    url = ORIGIN + (path[: -len("index.html")] if path.endswith("/index.html") else path)
    return _job(url, body, depth=path.count("/") - 1)


def corpus() -> list[tuple[str, PageJob]]:
    files = site_files()
    jobs = [(f"site {path}", site_job(path, files[path])) for path in SITE_PATHS]
    page = ORIGIN + "/dir/sub/page.html"
    domain = Scope.build("http://www.127.0.0.1.example/", mode="domain")
    patterns = Scope.build(ORIGIN + "/", include=[r"/(abs|x)"], exclude=[r"\?b="], max_depth=3)
    jobs += [
        ("links", _job(page, LINKS_PAGE)),
        ("links, any scope", _job(page, LINKS_PAGE, scope=Scope.build(ORIGIN, mode="any"))),
        ("links, domain scope", _job(page, LINKS_PAGE, scope=domain)),
        ("links, patterns and depth", _job(page, LINKS_PAGE, depth=3, scope=patterns)),
        ("links, https base", _job("https://127.0.0.1/dir/", LINKS_PAGE)),
        ("links, base with query", _job(ORIGIN + "/dir/?b=1&a=2", LINKS_PAGE)),
        ("links, truncated", _job(page, LINKS_PAGE, max_parse_bytes=1500)),
        ("fields", _job(page, FIELDS_PAGE)),
        ("no title", _job(page, NO_TITLE_PAGE)),
        ("empty title", _job(page, EMPTY_TITLE_PAGE)),
        ("title in body", _job(page, TITLE_IN_BODY_PAGE)),
        ("base", _job(page, BASE_PAGE)),
        ("bad base", _job(page, BAD_BASE_PAGE)),
        ("empty base", _job(page, EMPTY_BASE_PAGE)),
        ("other host base", _job(page, OTHER_HOST_BASE_PAGE)),
        ("resources image+text", _job(page, RESOURCES_PAGE, download=("image/*", "text/css"))),
        ("resources all", _job(page, RESOURCES_PAGE, download=("*/*", "application/pdf"))),
        ("resources none wanted", _job(page, RESOURCES_PAGE, download=("font/woff2",))),
        ("resources not asked", _job(page, RESOURCES_PAGE)),
        ("rules", _job(page, RULES_PAGE, rules=RULES)),
        ("cp1251 meta", _job(page, CP1251_PAGE)),
        ("cp1251 http charset", _job(page, CP1251_PAGE, charset="windows-1251")),
        ("shift_jis http charset", _job(page, SJIS_PAGE, charset="Shift_JIS")),
        ("shift_jis guessed", _job(page, SJIS_PAGE)),
        ("utf-16 bom", _job(page, UTF16_PAGE)),
        ("utf-8 bom", _job(page, UTF8_BOM_PAGE)),
        ("bad utf-8", _job(page, BAD_UTF8_PAGE)),
        ("bogus charset", _job(page, LINKS_PAGE, charset="x-bogus")),
        ("binary as html", _job(page, BINARY)),
        ("deep nesting", _job(page, DEEP_PAGE)),
        ("lexbor 340 shape", _job(page, LEXBOR_340_SMALL)),
        ("empty body", _job(page, b"")),
        ("not html", _job(page, b"%PDF-1.4 <a href='/x'>", is_html=False)),
        ("indented", _job(page, INDENTED_PAGE)),
        ("rich attributes", _job(page, RICH_ATTRIBUTES_PAGE)),
        ("rich attributes, resources", _job(page, RICH_ATTRIBUTES_PAGE, download=("*/*",))),
        ("svg first", _job(page, SVG_FIRST_PAGE)),
        ("valueless attributes", _job(page, VALUELESS_PAGE)),
        ("links, base with escapes", _job(ORIGIN + "/a%2Fb/c%7e/page", LINKS_PAGE)),
        ("links, base with parameters", _job(ORIGIN + "/x;keep=1/y;jsessionid=2/", LINKS_PAGE)),
        ("links, dot-segment base", _job(ORIGIN + "/.well-known/./a/../b/", LINKS_PAGE)),
        ("links, upper-case base", _job("HTTP://127.0.0.1:8000/Dir/Page", LINKS_PAGE)),
        ("links, ipv6 base", _job("http://[::1]:8000/v6/", LINKS_PAGE)),
        ("site page in another site", _job("http://other.example/", files["/index.html"])),
    ]
    return jobs


def as_record(page: ProcessedPage) -> Any:
    """A ProcessedPage as JSON data (tuples become lists), for comparison with the reference."""
    return json.loads(json.dumps(dataclasses.asdict(page)))


def site_digest() -> str:
    """sha256 over the output of every page of the generated site, in path order."""
    digest = hashlib.sha256()
    for path, body in sorted(site_files().items()):
        record = as_record(process_page(site_job(path, body)))
        digest.update(json.dumps([path, record], sort_keys=True).encode())
    return digest.hexdigest()


def record() -> None:
    reference: dict[str, Any] = {name: as_record(process_page(job)) for name, job in corpus()}
    reference[SITE_DIGEST] = site_digest()
    REFERENCE.write_text(json.dumps(reference, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(reference)} pages into {REFERENCE}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: page_corpus.py --record   (rewrites the reference)")
    record()
