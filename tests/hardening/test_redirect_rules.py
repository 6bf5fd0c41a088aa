"""T60, T61 end to end: robots.txt on every redirect hop, and redirects never fetch twice.

T60: `/to-secret` → 302 `/secret/page` under `Disallow: /secret`, and a redirect to a second
origin (127.0.0.2) whose own robots.txt disallows the target. Neither target is ever requested;
the second origin's robots.txt is.

T61: a site that links every directory in both spellings (`/sNN` → 301 → `/sNN/`, and `/sNN/`
directly), crawled with enough concurrency that a redirect often lands on a row that is queued
or claimed at that moment: every URL is requested exactly once.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from engine.invariants import assert_store_invariants
from engine.site import SiteServer, page_html

from .conftest import assert_clean_stderr, cli, only_session, pages


def _redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


def test_robots_checked_on_every_redirect_hop(tmp_path: Path) -> None:
    other = SiteServer({"/open": page_html("Open", [])}, host="127.0.0.2")
    other.robots = "User-agent: *\nDisallow: /private\n"
    other.start()
    site = {
        "/": page_html("Seed", ["/to-secret", "/to-other", "/to-open"]),
        "/secret/page": page_html("Secret", []),
    }
    server = SiteServer(site, robots="User-agent: *\nDisallow: /secret\n")
    server.extra["/to-secret"] = lambda _r: _redirect("/secret/page")
    server.extra["/to-other"] = lambda _r: _redirect(other.base + "/private/x")
    server.extra["/to-open"] = lambda _r: _redirect(other.base + "/open")
    server.start()
    data = tmp_path / "d"
    try:
        result = cli(data, "crawl", server.base + "/", "--headless", "--scope", "any")
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        assert only_session(data)[1] == "completed"
        assert "/secret/page" not in server.hits()
        assert "/private/x" not in other.hits()
        assert other.hits()["/robots.txt"] == 1  # the hop's origin, loaded once
        rows = pages(data)
        for source in ("/to-secret", "/to-other"):
            status, error = rows[server.base + source]
            assert status == "skipped" and error is not None, (source, status, error)
            assert error["kind"] == "robots", error
            assert "disallowed by robots.txt" in error["message"]
        assert server.base + "/secret/page" not in rows
        assert other.base + "/private/x" not in rows
        assert rows[other.base + "/open"][0] == "done"  # an allowed hop is still followed
        assert_store_invariants(data)
    finally:
        server.stop()
        other.stop()


def _dual_spelling_site(n: int) -> SiteServer:
    site: dict[str, str] = {}
    for i in range(n):
        targets = sorted({(i + 1) % n, (i * 7 + 3) % n, (i * 13 + 5) % n, i // 2})
        links = [f"/s{t:03d}" for t in targets] + [f"/s{t:03d}/" for t in targets]
        site[f"/s{i:03d}/"] = page_html(f"Dir {i}", links)
    # The root names every directory without its slash, a hub (claimed first) names each with
    # it: most redirects then land on a `/sNN/` row that is queued, or not yet committed.
    site["/"] = page_html("Root", ["/hub"] + [f"/s{i:03d}" for i in range(n)])
    site["/hub"] = page_html("Hub", [f"/s{i:03d}/" for i in range(n)])
    server = SiteServer(site)
    for i in range(n):
        server.extra[f"/s{i:03d}"] = lambda r: _redirect(r.path + "/", 301)
    return server


def test_dual_spelling_directories_fetched_exactly_once(tmp_path: Path) -> None:
    n = 400
    server = _dual_spelling_site(n).start()
    data = tmp_path / "d"
    try:
        result = cli(
            data,
            "crawl",
            server.base + "/",
            "--headless",
            "--concurrency",
            "32",
            "--per-host",
            "32",
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        assert only_session(data)[1] == "completed"
        hits = server.hits()
        twice = {path: count for path, count in hits.items() if count > 1}
        assert twice == {}, f"{len(twice)} URLs fetched more than once: {sorted(twice)[:10]}"
        rows = pages(data)
        done = {url for url, (status, _e) in rows.items() if status == "done"}
        expected = {server.base + "/", server.base + "/hub"}
        assert done == expected | {f"{server.base}/s{i:03d}/" for i in range(n)}
        assert_store_invariants(data)
    finally:
        server.stop()
