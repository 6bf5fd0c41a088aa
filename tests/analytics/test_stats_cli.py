"""`tui-scraper stats --json` against what a local server answered: every count.

The server (127.0.0.1) serves a known mix: pages that answer 200, links to pages that answer
404, pages that answer 500 once and then 200, and slow pages. The crawl runs in the real CLI;
`stats --json` in another. Then the same after a crawl killed with SIGKILL and resumed: the
figures stay exact (each page's result counted once, however often the kill made it fetched).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.engine.conftest import cli, popen_cli
from tests.engine.invariants import connect_ro
from tests.engine.site import SiteServer, page_html

GOOD, MISSING, FLAKY, SLOW = 30, 6, 4, 3
SLOW_S = 0.4


class MixedSite:
    """The mix above, and a log of every status the server sent (robots.txt aside)."""

    def __init__(self, good: int = GOOD, missing: int = MISSING, flaky: int = FLAKY) -> None:
        self.good, self.missing, self.flaky = good, missing, flaky
        links = (
            [f"/ok/{i}.html" for i in range(good)]
            + [f"/missing/{i}.html" for i in range(missing)]
            + [f"/flaky/{i}.html" for i in range(flaky)]
            + [f"/slow/{i}.html" for i in range(SLOW)]
        )
        self.pages = {"/": page_html("Home", links)}
        for i in range(good):
            self.pages[f"/ok/{i}.html"] = page_html(f"Ok {i}", [], filler=i)
        for i in range(SLOW):
            self.pages[f"/slow/{i}.html"] = page_html(f"Slow {i}", [])
        for i in range(flaky):
            self.pages[f"/flaky/{i}.html"] = page_html(f"Flaky {i}", [])
        self.sent: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._seen_flaky: set[str] = set()
        self.server = SiteServer({})
        self.server.extra = {"/robots.txt": self._robots}
        self.server._handle = self._handle  # type: ignore[method-assign]

    async def _robots(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/robots.txt":
            return await self._robots(request)
        if path.startswith("/slow/"):
            await asyncio.sleep(SLOW_S)
        status = 200
        with self._lock:
            if path.startswith("/flaky/") and path not in self._seen_flaky:
                self._seen_flaky.add(path)
                status = 500
            elif path not in self.pages:
                status = 404
            self.sent[status] += 1
        if status != 200:
            return web.Response(status=status, text="no")
        return web.Response(text=self.pages[path], content_type="text/html", charset="utf-8")

    def body_bytes(self) -> int:
        return sum(len(html.encode()) for html in self.pages.values())

    def __enter__(self) -> MixedSite:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def _stats(data: Path, session: str) -> dict[str, Any]:
    result = cli(data, "stats", session, "--json")
    assert result.returncode == 0, result.stderr
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def _session_id(data: Path) -> str:
    result = cli(data, "sessions", "--json")
    assert result.returncode == 0, result.stderr
    [session] = json.loads(result.stdout)
    return str(session["id"])


def test_stats_json_agrees_with_every_count_the_server_saw(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with MixedSite() as site:
        crawl = cli(data, "crawl", site.server.base + "/", "--headless", "--concurrency", "8")
        assert crawl.returncode == 0, crawl.stderr
        session = _session_id(data)
        figures = _stats(data, session)
        text = cli(data, "stats", session)
        sent = dict(site.sent)
    assert text.returncode == 0, text.stderr
    assert all(len(line) <= 80 for line in text.stdout.splitlines()), text.stdout
    assert f"codes     200: {sent[200]}  404: {MISSING}  500: {FLAKY}" in text.stdout
    pages = 1 + GOOD + MISSING + FLAKY + SLOW
    assert sent == {200: 1 + GOOD + FLAKY + SLOW, 404: MISSING, 500: FLAKY}
    assert figures["status_codes"] == {str(code): n for code, n in sorted(sent.items())}
    assert figures["status_classes"] == {
        "2xx": sent[200],
        "3xx": 0,
        "4xx": MISSING,
        "5xx": FLAKY,
        "errors": 0,
    }
    assert figures["pages"] == pages
    assert figures["outcomes"] == {"done": pages - MISSING, "failed": MISSING}
    assert figures["retries"] == FLAKY
    assert figures["retry_histogram"] == {"0": pages - FLAKY, "1": FLAKY}
    assert figures["bytes"] == site.body_bytes()
    assert figures["depth"] == {"0": 1, "1": pages - 1}
    [host] = figures["hosts"]
    assert host["host"] == f"127.0.0.1:{site.server.port}"
    assert (host["pages"], host["errors"], host["bytes"]) == (
        pages,
        MISSING + FLAKY,
        site.body_bytes(),
    )
    top = {e["reason"]: e["count"] for e in figures["top_errors"]}
    assert top == {"HTTP 404": MISSING, "HTTP 500": FLAKY}
    assert sum(point["pages"] for point in figures["timeline"]) == pages
    assert sum(point["retries"] for point in figures["timeline"]) == FLAKY
    assert sum(point["bytes"] for point in figures["timeline"]) == site.body_bytes()
    assert figures["latency_count"] == pages - MISSING
    # The slow pages are the slowest 3 of 41 timed: p95 and p99 fall in their bucket (the
    # buckets are a quarter octave wide), the median far below it.
    slow_ms = SLOW_S * 1000
    assert figures["latency_ms"]["p99"] >= slow_ms
    assert figures["latency_ms"]["p95"] >= slow_ms
    assert figures["latency_ms"]["p50"] < slow_ms / 2
    assert figures["duration_s"] > 0


def _committed(data: Path) -> int:
    try:
        db = connect_ro(data)
        try:
            row = db.execute(
                "SELECT count(*) FROM pages WHERE status IN ('done', 'failed', 'skipped')"
            ).fetchone()
            return int(row[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _store_figures(data: Path) -> tuple[Counter[str], int, int]:
    """From the pages table: final statuses, the retries the rows record, and done bytes."""
    db = connect_ro(data)
    try:
        states = Counter(
            dict(db.execute("SELECT status, count(*) FROM pages GROUP BY status").fetchall())
        )
        retries = db.execute(
            "SELECT coalesce(sum(attempts - 1), 0) FROM pages WHERE status != 'queued'"
        ).fetchone()[0]
        size = db.execute(
            "SELECT coalesce(sum(bytes), 0) FROM pages WHERE status = 'done'"
        ).fetchone()[0]
        return states, int(retries), int(size)
    finally:
        db.close()


def test_figures_stay_exact_after_sigkill_and_resume(tmp_path: Path) -> None:
    data = tmp_path / "d"
    good, missing, flaky = 400, 40, 30
    with MixedSite(good, missing, flaky) as site:
        crawl = popen_cli(
            data,
            "crawl",
            site.server.base + "/",
            "--headless",
            "--concurrency",
            "4",
            "--rate",
            "150",
        )
        try:
            deadline = time.monotonic() + 60
            while _committed(data) < 60:
                assert crawl.poll() is None, crawl.communicate()
                assert time.monotonic() < deadline, "no progress"
                time.sleep(0.05)
            os.kill(crawl.pid, signal.SIGKILL)
            crawl.wait(30)
        finally:
            if crawl.poll() is None:
                crawl.kill()
            crawl.communicate()
        session = _session_id(data)
        before = _stats(data, session)
        resumed = cli(data, "resume", session, "--headless")
        assert resumed.returncode == 0, resumed.stderr
        figures = _stats(data, session)
        sent = dict(site.sent)
    states, retries, size = _store_figures(data)
    pages = 1 + good + missing + flaky + SLOW
    assert states == Counter({"done": pages - missing, "failed": missing})
    # What the figures count is what the store holds: each page once, whatever the kill lost.
    assert before["pages"] < figures["pages"] == pages
    assert figures["outcomes"] == {"done": pages - missing, "failed": missing}
    assert figures["status_codes"].get("404") == missing
    assert figures["status_codes"]["200"] == pages - missing
    assert figures["retries"] == retries == figures["status_codes"].get("500", 0)
    assert figures["bytes"] == size == site.body_bytes()
    # The server answered at least that much (the kill made it answer some pages twice).
    assert sent[200] >= pages - missing and sent[404] >= missing
    assert sum(point["pages"] for point in figures["timeline"]) == pages


def test_stats_on_postgresql_agree_with_the_server_too(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "d"
    with MixedSite() as site:
        crawl = cli(data, "--db", pg_url, "crawl", site.server.base + "/", "--headless")
        assert crawl.returncode == 0, crawl.stderr
        listed = cli(data, "--db", pg_url, "sessions", "--json")
        assert listed.returncode == 0, listed.stderr
        [session] = json.loads(listed.stdout)
        result = cli(data, "--db", pg_url, "stats", session["id"], "--json")
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout)
        sent = dict(site.sent)
    assert figures["status_codes"] == {str(code): n for code, n in sorted(sent.items())}
    assert figures["retries"] == FLAKY
    assert figures["pages"] == 1 + GOOD + MISSING + FLAKY + SLOW
    assert figures["bytes"] == site.body_bytes()


def test_an_unknown_or_bad_id_is_one_line_exit_2_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "nothing-here"
    for args in (("stats", "abcd1234"), ("stats", "not-an-id"), ("stats", "abcd", "--json")):
        result = cli(data, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert result.stdout == ""
    assert not data.exists()
