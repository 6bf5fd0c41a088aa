"""The stored set of pages equals the expected set, whatever the spelling of the links."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .conftest import cli
from .invariants import assert_store_invariants, page_states, session_status
from .site import SiteServer, generated_site, page_html


def test_stored_pages_equal_expected(tmp_path: Path) -> None:
    pages = generated_site(40)
    # A hub page with every awkward spelling of links into the site and out of it.
    pages["/hub.html"] = page_html(
        "Hub",
        [
            "/p/3.html#top",
            "p/3.html",
            "./p/3.html",
            "/p/../p/3.html",
            "/q.html?b=2&a=1",
            "/q.html?a=1&b=2",
            "/Q.html?a=1&b=2",
            "/secret/x.html",
            "/missing.html",
            "http://example.invalid/outside.html",
            "mailto:someone@example.org",
            "javascript:alert(1)",
            "/p/5.html?utm_source=x",
        ],
    )
    pages["/"] = pages["/"].replace("</body>", '<a href="/hub.html">hub</a></body>')
    pages["/q.html"] = page_html("Q lower", [])
    pages["/Q.html"] = page_html("Q upper", [])
    pages["/secret/x.html"] = page_html("Secret", [])
    server = SiteServer(pages, robots="User-agent: *\nDisallow: /secret/\n").start()
    try:
        data = tmp_path / "d"
        result = cli(data, "crawl", server.base + "/", "--headless", "--concurrency", "4")
        assert result.returncode == 0, result.stderr
        states = page_states(data)
        base = server.base
        expected_done = {base + ("/" if i == 0 else f"/p/{i}.html") for i in range(40)}
        expected_done |= {base + "/hub.html", base + "/q.html?a=1&b=2", base + "/Q.html?a=1&b=2"}
        done = {url for url, state in states.items() if state == "done"}
        assert done == expected_done
        assert states[base + "/secret/x.html"] == "skipped"
        assert states[base + "/missing.html"] == "failed"
        assert not any("example.invalid" in url for url in states)
        assert set(states) == expected_done | {base + "/secret/x.html", base + "/missing.html"}
        # each page fetched exactly once (robots.txt aside)
        hits = server.hits()
        assert max(n for path, n in hits.items() if path != "/robots.txt") == 1
        assert session_status(data)[0][1] == "completed"
        assert_store_invariants(data)
    finally:
        server.stop()


def test_bad_input_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    cases = [
        ("crawl", "notaurl", "--headless"),
        ("crawl", "ftp://example.org/", "--headless"),
        ("crawl", "http://127.0.0.1:1/", "--headless", "--max-pages", "-3"),
        ("crawl", "http://127.0.0.1:1/", "--headless", "--include", "("),
        ("crawl", "http://127.0.0.1:1/", "--headless", "--extract", "t=a[[["),
        ("crawl", "http://127.0.0.1:1/", "--headless", "--concurrency", "x"),
        ("show", "nosuchsession"),
        ("resume", "nosuchsession", "--headless"),
    ]
    for args in cases:
        result = cli(data, *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        if args[0] == "crawl":
            assert not data.exists(), f"{args} created the data dir"
    listed = cli(data, "sessions", "--json")
    assert listed.returncode == 0
    assert listed.stdout.strip() == "[]"


def test_retry_after_and_transient_errors_recover(tmp_path: Path) -> None:
    pages = generated_site(5)
    calls = {"n": 0}

    def flaky(request: web.Request) -> web.Response | None:
        calls["n"] += 1
        if calls["n"] <= 2:
            return web.Response(status=503, headers={"Retry-After": "1"})
        return None

    pages["/"] = pages["/"].replace("</body>", '<a href="/flaky.html">f</a></body>')
    pages["/flaky.html"] = page_html("Flaky", [])
    server = SiteServer(pages, extra={"/flaky.html": flaky}).start()
    try:
        data = tmp_path / "d"
        result = cli(data, "crawl", server.base + "/", "--headless", "--retries", "3")
        assert result.returncode == 0, result.stderr
        assert page_states(data)[server.base + "/flaky.html"] == "done"
        assert calls["n"] == 3
    finally:
        server.stop()


def test_redirect_target_is_stored_once_under_its_own_name(tmp_path: Path) -> None:
    pages = generated_site(6)
    # /dir/ is linked only deeper than /dir, as on a real site whose menu links "/dir".
    pages["/"] = pages["/"].replace("<h1>", '<a href="/dir">dir</a><a href="/a.html">a</a><h1>')
    pages["/a.html"] = page_html("A", ["/b.html"])
    pages["/b.html"] = page_html("B", ["/dir/", "/dir2"])
    pages["/dir/"] = page_html("Directory", ["/p/1.html"])
    # And the other order: /dir2/ is stored first, then a link to /dir2 redirects to it.
    pages["/"] = pages["/"].replace("<h1>", '<a href="/dir2/">dir2</a><h1>')
    pages["/dir2/"] = page_html("Directory 2", [])

    def to_slash(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "/dir/"})

    def to_slash2(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "/dir2/"})

    server = SiteServer(pages, extra={"/dir": to_slash, "/dir2": to_slash2}).start()
    try:
        data = tmp_path / "d"
        result = cli(
            data, "crawl", server.base + "/", "--headless", "--concurrency", "1", "--per-host", "1"
        )
        assert result.returncode == 0, result.stderr
        states = page_states(data)
        assert states[server.base + "/dir/"] == "done"
        assert states[server.base + "/dir"] == "skipped"
        hits = server.hits()
        assert hits["/dir/"] == 1, hits
        assert hits["/dir"] == 1
        assert (hits["/dir2/"], hits["/dir2"]) == (1, 1), hits
        assert states[server.base + "/dir2"] == "skipped"
        assert_store_invariants(data)
    finally:
        server.stop()
