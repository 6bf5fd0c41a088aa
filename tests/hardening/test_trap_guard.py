"""T64 end to end: a calendar and a per-visit token with no other limit end by themselves.

No `--max-pages`, no `--max-depth`: only the trap guard's defaults stand between these pages
and forever (before the guard this crawl fetched 8,460 pages in 20 s and went on). The limits
are visible in the stored config and can be changed per crawl.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from engine.invariants import assert_store_invariants, connect_ro
from engine.site import SiteServer, page_html

from tui_scraper.domain.config import DEFAULT_MAX_PARAM_VALUES, DEFAULT_MAX_PER_PATTERN

from .conftest import assert_clean_stderr, cli, only_session, pages


def _html(title: str, links: list[str]) -> web.Response:
    return web.Response(text=page_html(title, links), content_type="text/html")


def _calendar(request: web.Request) -> web.Response:
    day = int(request.query.get("day", "0"))
    return _html(f"Day {day}", [f"/cal?day={day + 1}", f"/cal?day={day - 1}"])


def _token(_request: web.Request) -> web.Response:
    # Every visit hands out fresh tokens, under a name canonicalisation does not know.
    return _html("Token", [f"/t?visit={secrets.token_hex(8)}" for _ in range(2)])


def _diary(request: web.Request) -> web.Response:
    n = int(request.path.strip("/").rsplit("/", 1)[1])
    return _html(f"Diary {n}", [f"/diary/{n + 1}/", f"/diary/{n + 2}/"])


def _site() -> SiteServer:
    server = SiteServer({"/": page_html("Root", ["/cal?day=0", "/t?visit=first", "/diary/0/"])})
    server.extra["/cal"] = _calendar
    server.extra["/t"] = _token
    original = server._handle

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/diary/"):
            with server._lock:
                server.log.append(request.path_qs)
            return _diary(request)
        return await original(request)

    server._handle = handle  # type: ignore[method-assign]
    return server


def _events(data: Path, kind: str) -> list[str]:
    db = connect_ro(data)
    try:
        rows = db.execute("SELECT reason FROM session_events WHERE kind = ?", (kind,)).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def _stored_config(data: Path) -> dict[str, object]:
    """The config as `tui-scraper show --json` reports it: where a user sees the limits."""
    result = cli(data, "show", only_session(data)[0], "--json")
    assert result.returncode == 0, result.stderr
    config: dict[str, object] = json.loads(result.stdout)["config"]
    return config


def _paths(data: Path, prefix: str) -> list[str]:
    return [u for u in pages(data) if urlsplit(u).path.startswith(prefix)]


def test_overridden_limits_bound_every_trap(tmp_path: Path) -> None:
    server = _site().start()
    data = tmp_path / "d"
    try:
        result = cli(
            data,
            "crawl",
            server.base + "/",
            "--headless",
            "--max-per-pattern",
            "50",
            "--max-param-values",
            "30",
            timeout=90,
        )
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        assert only_session(data)[1] == "completed"
        config = _stored_config(data)
        assert config["trap_max_per_pattern"] == 50 and config["trap_max_param_values"] == 30
        assert len(_paths(data, "/diary/")) == 50  # one pattern: /diary/N/
        assert len(_paths(data, "/cal")) == 30  # 30 values of day
        assert len(_paths(data, "/t")) == 30  # 30 values of visit
        reasons = _events(data, "trap")
        assert any("50 URLs like" in r and "/diary/N/" in r for r in reasons), reasons
        assert any("values of query parameter 'day'" in r for r in reasons), reasons
        assert any("values of query parameter 'visit'" in r for r in reasons), reasons
        assert_store_invariants(data)
    finally:
        server.stop()


def test_default_limits_end_a_calendar_and_a_token_trap(tmp_path: Path) -> None:
    server = _site()
    server.pages["/"] = page_html("Root", ["/cal?day=0", "/t?visit=first"])
    server.start()
    data = tmp_path / "d"
    try:
        t0 = time.monotonic()
        result = cli(data, "crawl", server.base + "/", "--headless", timeout=150)
        took = time.monotonic() - t0
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        assert only_session(data)[1] == "completed"
        config = _stored_config(data)
        assert config["trap_max_per_pattern"] == DEFAULT_MAX_PER_PATTERN
        assert config["trap_max_param_values"] == DEFAULT_MAX_PARAM_VALUES
        rows = pages(data)
        cal = _paths(data, "/cal")
        tokens = _paths(data, "/t")
        assert len(cal) == DEFAULT_MAX_PARAM_VALUES and len(tokens) == DEFAULT_MAX_PARAM_VALUES
        assert len(rows) == 1 + len(cal) + len(tokens)
        assert len(_events(data, "trap")) == 2
        print(f"{len(rows)} pages in {took:.1f} s")
    finally:
        server.stop()
