"""The built-in demo site: a few hundred deterministic pages, generated in code.

Nothing here does I/O: `build_site()` returns every resource as bytes, and
`expected_pages()` says what a correct crawl stores. The server (server.py) only
looks resources up and adds the two behaviours that need time or state (the slow
page and the page that fails once).

Determinism: one `random.Random(SEED)` drives every choice, and the generated HTML
uses root-relative links only, so the bytes do not depend on the host or port the
site is served on (only robots.txt's Sitemap line and sitemap.xml do).
"""

from __future__ import annotations

import html
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from .assets import pdf_bytes, png_bytes

SEED = 20240601

HTML_TYPE = "text/html; charset=utf-8"
PNG_PATH = "/media/crawl-diagram.png"
PDF_PATH = "/media/whitepaper.pdf"
SLOW_PATH = "/reports/quarterly-report.html"  # answers after SLOW_SECONDS
SLOW_SECONDS = 2.0
FLAKY_PATH = "/status/"  # 500 on the first request to a server instance, 200 after
HOSTILE_PATH = "/blog/2023/markup-in-titles.html"
# Markup for Rich/Textual, an action link, and a terminal escape (as a numeric
# character reference, which HTML parsers decode to U+001B): the UI must show all of it
# literally and must never run `app.quit`.
HOSTILE_TITLE = "[b]bold?[/b] [@click=app.quit]x[/] &#27;[31mred&#27;[0m"
EXTERNAL_URL = "https://example.org/"  # linked, out of scope: a correct crawl never fetches it
DISALLOWED_PREFIX = "/private/"
# Linked from real pages but not served: each is a 404 ("failed" in a crawl).
BROKEN_PATHS = (
    "/docs/guides/legacy-setup.html",
    "/blog/2021/",
    "/products/discontinued/widget-x.html",
)
# Two spellings of one URL (query order) — one page after canonicalisation.
SEARCH_HREFS = ("/search?q=crawler&page=1", "/search?page=1&q=crawler")


@dataclass
class Page:
    path: str  # canonical root-relative path (+ sorted query), the key it is served under
    title: str
    section: str
    parent: str | None
    links: list[str] = field(default_factory=list)  # hrefs exactly as written in the HTML


@dataclass(frozen=True)
class Resource:
    content_type: str
    body: bytes
    links: tuple[str, ...] = ()  # hrefs in the body (HTML only), as written


@dataclass(frozen=True)
class DemoSite:
    resources: dict[str, Resource]  # key: canonical root-relative path (+ sorted query)

    def lookup(self, path: str, query: str = "") -> Resource | None:
        return self.resources.get(_key(path, query))


def _key(path: str, query: str) -> str:
    # The server finds a resource under the same key the crawler's canonical URL has,
    # so `?q=crawler&page=1` and `?page=1&q=crawler` are one page.
    if not query:
        return path
    return path + "?" + urlencode(sorted(parse_qsl(query, keep_blank_values=True)))


_VOCABULARY = (
    "crawler session frontier queue request response header cookie robots sitemap "
    "archive snapshot index page link anchor domain host port scheme redirect retry "
    "backoff jitter timeout deadline budget storage blob hash checksum batch commit "
    "journal resume pause cancel worker thread process event loop terminal screen "
    "table column filter export report latency throughput politeness scope depth "
    "canonical fragment query parameter encoding charset parser selector extract "
    "field value record history status progress estimate reliable durable exact"
)
_WORDS = _VOCABULARY.split()
_TOPICS = (
    "Sitemaps",
    "Robots.txt",
    "Rate Limits",
    "Retries",
    "Redirects",
    "Encodings",
    "Selectors",
    "Exports",
    "Sessions",
    "Checkpoints",
    "Frontiers",
    "Timeouts",
    "Proxies",
    "Cookies",
    "Headers",
    "Canonical URLs",
    "Link Extraction",
    "Crash Recovery",
    "Politeness",
    "Large Sites",
)
_VERBS = (
    "Understanding",
    "Debugging",
    "Tuning",
    "Scaling",
    "Testing",
    "Securing",
    "Monitoring",
    "Designing",
    "Measuring",
    "Simplifying",
)
_ANGLES = (
    "a practical guide",
    "lessons from production",
    "what we got wrong",
    "the short version",
    "a field report",
    "notes from the team",
    "ten common mistakes",
    "a deep dive",
)
_ADJECTIVES = ("Compact", "Rugged", "Silent", "Modular", "Classic", "Portable", "Pro", "Lite")
_MATERIALS = ("Steel", "Bamboo", "Carbon", "Oak", "Copper", "Ceramic", "Linen", "Glass")
_CATEGORIES = (
    ("keyboards", "Keyboard"),
    ("monitors", "Monitor"),
    ("desks", "Desk"),
    ("lamps", "Lamp"),
    ("chairs", "Chair"),
    ("cables", "Cable Kit"),
)
_PEOPLE = ("ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances")
_JOBS = (
    "Backend Engineer",
    "Site Reliability Engineer",
    "Technical Writer",
    "Product Designer",
    "Support Engineer",
)
_API = (
    "sessions",
    "pages",
    "events",
    "exports",
    "blobs",
    "robots",
    "settings",
    "limits",
    "schedules",
    "webhooks",
    "tokens",
    "users",
    "teams",
    "projects",
    "tags",
    "filters",
    "rules",
    "reports",
    "metrics",
    "health",
    "queues",
    "workers",
    "leases",
    "snapshots",
    "sitemaps",
)
_CLI = (
    "crawl",
    "resume",
    "sessions",
    "show",
    "export",
    "demo",
    "pause",
    "cancel",
    "dismiss",
    "config",
)


def _slug(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(part for part in out.split("-") if part)


class _Builder:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.pages: dict[str, Page] = {}
        self.order: list[str] = []

    def add(self, path: str, title: str, section: str, parent: str | None) -> Page:
        if path in self.pages:  # two generated titles can slug alike: keep paths unique
            stem, dot, ext = path.rpartition(".")
            n = 2
            while f"{stem}-{n}{dot}{ext}" in self.pages:
                n += 1
            path = f"{stem}-{n}{dot}{ext}"
        page = Page(path=path, title=title, section=section, parent=parent)
        self.pages[path] = page
        self.order.append(path)
        if parent is not None:
            self.pages[parent].links.append(path)
        return page

    def title_pick(self, *choices: Iterable[str]) -> str:
        return " ".join(self.rng.choice(tuple(c)) for c in choices)


def _structure() -> dict[str, Page]:
    b = _Builder()
    home = b.add("/", "Acme Crawling Co. — fast, exact, resumable web crawls", "home", None)

    docs = b.add("/docs/", "Documentation", "docs", "/")
    guides = b.add("/docs/guides/", "Guides", "docs", docs.path)
    for i in range(12):
        title = f"{b.rng.choice(_VERBS)} {_TOPICS[(i * 7) % len(_TOPICS)]}"
        b.add(f"/docs/guides/{_slug(title)}.html", title, "docs", guides.path)
    ref = b.add("/docs/reference/", "Reference", "docs", docs.path)
    api = b.add("/docs/reference/api/", "HTTP API reference", "docs", ref.path)
    for name in _API:
        b.add(f"/docs/reference/api/{name}.html", f"API: /{name}", "docs", api.path)
    cli = b.add("/docs/reference/cli/", "Command-line reference", "docs", ref.path)
    for name in _CLI:
        b.add(f"/docs/reference/cli/{name}.html", f"tui-scraper {name}", "docs", cli.path)
    tutorials = b.add("/docs/tutorials/", "Tutorials", "docs", docs.path)
    for i in range(15):
        title = f"Tutorial {i + 1}: {_TOPICS[(i * 3 + 1) % len(_TOPICS)]} step by step"
        b.add(f"/docs/tutorials/{i + 1:02d}-{_slug(title)}.html", title, "docs", tutorials.path)

    blog = b.add("/blog/", "Blog", "blog", "/")
    for year in (2022, 2023, 2024):
        year_index = b.add(f"/blog/{year}/", f"Blog archive {year}", "blog", blog.path)
        for _ in range(30):
            title = f"{b.rng.choice(_VERBS)} {b.rng.choice(_TOPICS)}: {b.rng.choice(_ANGLES)}"
            b.add(f"/blog/{year}/{_slug(title)}.html", title, "blog", year_index.path)
    # The one hostile title: a single page, so the UI test can find it.
    b.add(HOSTILE_PATH, HOSTILE_TITLE, "blog", "/blog/2023/")

    products = b.add("/products/", "Products", "products", "/")
    for slug, noun in _CATEGORIES:
        cat = b.add(f"/products/{slug}/", f"{noun}s", "products", products.path)
        for _ in range(12):
            title = f"{b.rng.choice(_ADJECTIVES)} {b.rng.choice(_MATERIALS)} {noun}"
            b.add(f"/products/{slug}/{_slug(title)}.html", title, "products", cat.path)

    about = b.add("/about/", "About us", "about", "/")
    team = b.add("/about/team/", "Our team", "about", about.path)
    for person in _PEOPLE:
        b.add(
            f"/about/team/{person}.html", f"{person.capitalize()} — team member", "about", team.path
        )
    careers = b.add("/about/careers/", "Careers", "about", about.path)
    for job in _JOBS:
        b.add(f"/about/careers/{_slug(job)}.html", f"Job opening: {job}", "about", careers.path)
    b.add("/about/contact.html", "Contact", "about", about.path)

    # robots.txt disallows this section; it is linked from /about/ only.
    priv = b.add(DISALLOWED_PREFIX, "Internal area", "private", about.path)
    for name in ("payroll", "roadmap", "incidents"):
        b.add(f"{DISALLOWED_PREFIX}{name}.html", f"Internal: {name}", "private", priv.path)

    b.add(SLOW_PATH, "Quarterly report (slow to generate)", "reports", "/")
    b.add(FLAKY_PATH, "Service status (fails once, then works)", "status", "/")
    b.add("/search?page=1&q=crawler", "Search results for “crawler”", "search", None)

    _add_cross_links(b, home)
    return b.pages


def _add_cross_links(b: _Builder, home: Page) -> None:
    regular = [p for p in b.order if b.pages[p].section not in ("private",) and "?" not in p]
    siblings: dict[str | None, list[str]] = {}
    for path in b.order:
        siblings.setdefault(b.pages[path].parent, []).append(path)
    for path in b.order:
        page = b.pages[path]
        # prev/next among siblings: a realistic chain, and many paths to every page
        if page.parent is not None:
            group = siblings[page.parent]
            at = group.index(path)
            if at > 0:
                page.links.append(group[at - 1])
            if at + 1 < len(group):
                page.links.append(group[at + 1])
            page.links.append(page.parent)
        if page.section != "private":
            page.links += b.rng.sample(regular, 3)  # "related" links across sections
    # Fragment links: same page as their target after canonicalisation.
    home.links += ["/docs/#top", "/blog/2024/#latest", "/#main"]
    b.pages["/docs/guides/"].links.append("/docs/reference/api/sessions.html#fields")
    # The search page, linked under both query orders.
    home.links.append(SEARCH_HREFS[0])
    b.pages["/docs/"].links.append(SEARCH_HREFS[1])
    # Broken links (404), the image, the PDF, the external link.
    b.pages["/docs/guides/"].links.append(BROKEN_PATHS[0])
    b.pages["/blog/"].links.append(BROKEN_PATHS[1])
    b.pages["/products/"].links.append(BROKEN_PATHS[2])
    b.pages["/docs/"].links += [PNG_PATH, PDF_PATH]
    b.pages["/about/"].links.append(PDF_PATH)
    home.links.append(EXTERNAL_URL)
    b.pages["/about/contact.html"].links.append(EXTERNAL_URL)
    # The search page links back into the site.
    b.pages["/search?page=1&q=crawler"].links += [*b.rng.sample(regular, 8), "/"]


_NAV = (("/", "Home"), ("/docs/", "Docs"), ("/blog/", "Blog"), ("/products/", "Products"))


def _render(page: Page, pages: dict[str, Page], rng: random.Random) -> bytes:
    def label(href: str) -> str:
        target = pages.get(href.split("#", 1)[0])
        if target is not None:
            return target.title
        if href == EXTERNAL_URL:
            return "Our friends at example.org"
        if href == PNG_PATH:
            return "Crawl diagram (PNG)"
        if href == PDF_PATH:
            return "Whitepaper (PDF)"
        return href  # broken links and query variants: the href is the label

    # The hostile title is already HTML (its escape is a character reference), so it is
    # not escaped again; every other title is plain text.
    title = page.title if page.path == HOSTILE_PATH else html.escape(page.title)
    paragraphs = []
    # Index pages carry many links: fewer paragraphs keep every page within 1–5 KB.
    for _ in range(max(1, rng.randint(2, 6) - len(page.links) // 8)):
        longest = 70 if len(page.links) < 24 else 35
        words = [rng.choice(_WORDS) for _ in range(rng.randint(20, longest))]
        paragraphs.append("<p>" + " ".join(words).capitalize() + ".</p>")
    nav = " | ".join(f'<a href="{h}">{t}</a>' for h, t in _NAV) + ' | <a href="/about/">About</a>'
    items = "\n".join(
        f'<li><a href="{html.escape(h)}">{html.escape(label(h))}</a></li>' for h in page.links
    )
    image = (
        f'<p><img src="{PNG_PATH}" alt="diagram" width="32" height="32"></p>'
        if (PNG_PATH in page.links)
        else ""
    )
    text = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<meta name="description" content="{html.escape(page.section)} page of the tui-scraper demo site">
</head>
<body>
<header id="top"><nav>{nav}</nav></header>
<main id="main">
<h1>{title}</h1>
{image}
{"".join(paragraphs)}
<h2>Links</h2>
<ul>
{items}
</ul>
</main>
<footer><a href="/about/contact.html">Contact</a> · tui-scraper demo site</footer>
</body>
</html>
"""
    return text.encode("utf-8")


def _all_links(page: Page) -> list[str]:
    # Every href in the rendered page, in document order (nav + list + footer). Kept in
    # one place so expected_pages() and the HTML cannot disagree.
    extra = [PNG_PATH] if PNG_PATH in page.links else []
    return [h for h, _ in _NAV] + ["/about/"] + extra + page.links + ["/about/contact.html"]


@cache
def build_site() -> DemoSite:
    pages = _structure()
    rng = random.Random(SEED + 1)  # separate stream: text changes never move the link structure
    resources: dict[str, Resource] = {}
    for path, page in pages.items():
        resources[path] = Resource(HTML_TYPE, _render(page, pages, rng), tuple(_all_links(page)))
    resources[PNG_PATH] = Resource("image/png", png_bytes())
    resources[PDF_PATH] = Resource("application/pdf", pdf_bytes())
    return DemoSite(resources)


def robots_txt(base_url: str) -> bytes:
    return (
        f"# tui-scraper demo site\nUser-agent: *\nDisallow: {DISALLOWED_PREFIX}\n\n"
        f"Sitemap: {urljoin(base_url, '/sitemap.xml')}\n"
    ).encode()


def sitemap_xml(base_url: str) -> bytes:
    urls = sorted(u for u, outcome in expected_pages(base_url).items() if outcome == "done")
    body = "".join(f"  <url><loc>{html.escape(u)}</loc></url>\n" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{body}</urlset>\n"
    ).encode()


def canonical(base_url: str, href: str) -> str:
    """The canonical form a correct crawler stores: fragment dropped, query sorted.

    Only what the demo's own links need (they are plain ASCII, no dot segments, no
    default ports); the engine's canonicaliser is the real one.
    """
    parts = urlsplit(urljoin(base_url, href))
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", query, ""))


def _matches(content_type: str, patterns: Iterable[str]) -> bool:
    mime = content_type.split(";", 1)[0].strip()
    return any(fnmatchcase(mime, p) for p in patterns)


def expected_pages(
    base_url: str, *, respect_robots: bool = True, download: Iterable[str] = ()
) -> dict[str, str]:
    """What a correct crawl of the demo site from `base_url` stores: canonical URL -> outcome.

    Outcomes, for the default options (robots respected, no `--download`):
    - "done": every in-scope, robots-allowed HTML page reachable from the start page,
      including the slow page (~2 s) and the status page that answers 500 once (a
      retry makes it "done");
    - "failed": the three broken links (404: permanent, no retry);
    - "skipped": the PNG and the PDF (content types not in `download`; with
      `download=("image/*", "application/pdf")` they are "done").
    Never present: the external link (out of scope, never fetched), robots.txt and
    sitemap.xml (not pages; nothing links to them), and the robots-disallowed pages
    under /private/ (see `disallowed_pages`; an engine that records them at all must
    record them as "skipped", and a test should accept either). With
    `respect_robots=False` the /private/ pages are "done".
    """
    site = build_site()
    base = canonical(base_url, "/")
    origin = urlsplit(base)
    patterns = tuple(download)
    outcomes: dict[str, str] = {}
    queue: deque[str] = deque([base])
    seen = {base}
    while queue:
        url = queue.popleft()
        parts = urlsplit(url)
        resource = site.lookup(parts.path, parts.query)
        if resource is None:
            outcomes[url] = "failed"
            continue
        if not resource.content_type.startswith("text/html"):
            outcomes[url] = "done" if _matches(resource.content_type, patterns) else "skipped"
            continue
        outcomes[url] = "done"
        for href in resource.links:
            target = canonical(url, href)
            t = urlsplit(target)
            if (t.scheme, t.netloc) != (origin.scheme, origin.netloc) or target in seen:
                continue
            if respect_robots and t.path.startswith(DISALLOWED_PREFIX):
                continue
            seen.add(target)
            queue.append(target)
    return outcomes


def disallowed_pages(base_url: str) -> set[str]:
    """The /private/ URLs that robots.txt disallows (linked, never fetched by default)."""
    site = build_site()
    return {canonical(base_url, k) for k in site.resources if k.startswith(DISALLOWED_PREFIX)}
