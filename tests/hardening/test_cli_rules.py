"""T63, T64 end to end through the real CLI: extraction rules never collide with the built-in
fields, and `--download` follows resource links (`<img>`, `<link>`, `<script>`, `<source>`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from engine.invariants import assert_store_invariants, connect_ro
from engine.site import SiteServer, page_html

from .conftest import assert_clean_stderr, cli, pages


@pytest.mark.parametrize("spec", ["title=h1", "h1=h2", "outlinks=a@href"])
def test_extract_rule_named_like_a_builtin_field_is_refused(tmp_path: Path, spec: str) -> None:
    data = tmp_path / "d"
    result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--extract", spec)
    assert result.returncode == 2, result.stderr
    assert_clean_stderr(result.stderr)
    lines = result.stderr.strip().splitlines()
    name = spec.split("=", 1)[0]
    assert len(lines) == 1 and f"'{name}' is a built-in field" in lines[0], lines
    assert not data.exists()


PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def _resource_site() -> tuple[SiteServer, SiteServer]:
    other = SiteServer({}, host="127.0.0.2").start()
    root = (
        "<!doctype html><html><head><title>Root</title>"
        '<link rel="stylesheet" href="/style.css"><link rel="icon" href="/favicon.png">'
        '<link rel="canonical" href="/"><script src="/app.js"></script></head><body>'
        '<img src="/img/a.png"><img src="/img/a.png#again"><img src="/private/b.png">'
        f'<img src="{other.base}/c.png"><img src="/img/fake.png">'
        '<picture><source src="/img/d.png"></picture><a href="/page2">next</a></body></html>'
    )
    page2 = page_html("Page 2", []).replace("</body>", '<img src="/img/a.png"></body>')
    server = SiteServer({"/": root, "/page2": page2}, robots="User-agent: *\nDisallow: /private\n")

    def png(_request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    for path in ("/img/a.png", "/img/d.png", "/favicon.png", "/private/b.png"):
        server.extra[path] = png
    server.extra["/style.css"] = lambda _r: web.Response(text="p{}", content_type="text/css")
    server.extra["/app.js"] = lambda _r: web.Response(text="1", content_type="text/javascript")
    # An <img> that answers with HTML: a download that does not match, never parsed for links.
    server.extra["/img/fake.png"] = lambda _r: web.Response(
        text=page_html("Fake", ["/from-a-resource"]), content_type="text/html"
    )
    return server.start(), other


def _downloads(data: Path) -> dict[str, str]:
    db = connect_ro(data)
    try:
        rows = db.execute("SELECT url, mime_type FROM downloaded_content").fetchall()
    finally:
        db.close()
    return dict(rows)


def test_download_follows_resource_links_of_the_wanted_types(tmp_path: Path) -> None:
    server, other = _resource_site()
    data = tmp_path / "d"
    try:
        result = cli(data, "crawl", server.base + "/", "--headless", "--download", "image/*")
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        hits = server.hits()
        base = server.base
        assert _downloads(data) == {
            f"{base}/img/a.png": "image/png",
            f"{base}/img/d.png": "image/png",
            f"{base}/favicon.png": "image/png",
        }
        assert hits["/img/a.png"] == 1  # three references, one fetch
        assert "/private/b.png" not in hits  # robots.txt holds for resources too
        assert other.hits() == {}  # out of scope: never requested
        assert "/style.css" not in hits and "/app.js" not in hits  # not a wanted type
        assert hits["/img/fake.png"] == 1
        assert "/from-a-resource" not in hits  # a resource is never parsed for links
        rows = pages(data)
        assert rows[f"{base}/img/fake.png"][0] == "skipped"
        assert rows[f"{base}/private/b.png"][0] == "skipped"
        assert rows[f"{base}/page2"][0] == "done"
        assert_store_invariants(data)
    finally:
        server.stop()
        other.stop()


def test_without_a_download_rule_resources_are_not_fetched(tmp_path: Path) -> None:
    server, other = _resource_site()
    data = tmp_path / "d"
    try:
        result = cli(data, "crawl", server.base + "/", "--headless")
        assert result.returncode == 0, result.stderr
        assert set(server.hits()) == {"/robots.txt", "/", "/page2"}
        assert _downloads(data) == {}
    finally:
        server.stop()
        other.stop()
