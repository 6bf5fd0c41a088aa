"""`recrawl` and `diff` through the real CLI, in child processes, against a site whose pages
change between the two crawls and that answers conditional requests like nginx."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import cli
from tests.engine.invariants import assert_store_invariants, connect_ro
from tests.engine.site import page_html

from .site import ChangingSite, linked_site

PAGES = 8


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    pages = linked_site(PAGES)
    # Reachable only through /p/3.html, which stays unchanged: the recrawl reaches it only if a
    # 304's links are followed.
    pages["/p/3.html"] = page_html("Page 3", ["/p/4.html", "/deep.html"], 5)
    pages["/deep.html"] = page_html("Deep", [], 5)
    server = ChangingSite.of(pages).start()
    yield server
    server.stop()


def _rows(data: Path, session_id: str) -> dict[str, sqlite3.Row]:
    db = connect_ro(data)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("SELECT * FROM pages WHERE session_id = ?", (session_id,))
        return {row["url"]: row for row in rows}
    finally:
        db.close()


def _crawl(data: Path, *args: str) -> str:
    result = cli(data, *args, "--headless")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[0]


def _change(site: ChangingSite) -> None:
    """Edit one page (now also linking a new page), delete one, add one."""
    site.put("/p/1.html", page_html("Page 1, edited", ["/p/2.html", "/new.html"], 7))
    site.put("/new.html", page_html("New", [], 3))
    site.delete("/p/5.html")


def test_recrawl_asks_conditionally_and_still_reaches_every_page(
    tmp_path: Path, site: ChangingSite
) -> None:
    data = tmp_path / "d"
    first = _crawl(data, "crawl", site.url("/"), "--concurrency", "4")
    before = _rows(data, first)
    assert all(row["etag"] and row["last_modified"] for row in before.values())
    assert before[site.url("/p/2.html")]["etag"] == site.pages["/p/2.html"].etag
    _change(site)
    site.clear_log()

    second = _crawl(data, "recrawl", first[:8])
    assert second != first
    after = _rows(data, second)
    states = {
        url: (row["status"], row["http_status"], row["error_details"]) for url, row in after.items()
    }
    unchanged = {f"/p/{i}.html" for i in range(PAGES)} - {"/p/1.html", "/p/5.html"}
    unchanged |= {"/", "/deep.html"}
    done = {url for url, row in after.items() if row["status"] == "done"}
    assert done == {site.url(p) for p in unchanged | {"/p/1.html", "/new.html"}}, states
    for path in unchanged:
        row, old = after[site.url(path)], before[site.url(path)]
        assert row["http_status"] == 304, (path, states, site.log)
        assert row["content_hash"] == old["content_hash"]
        assert row["raw_html_storage_path"] == old["raw_html_storage_path"]
        assert row["etag"] == old["etag"] and row["title"] == old["title"]
    assert after[site.url("/p/1.html")]["http_status"] == 200
    assert (
        after[site.url("/p/1.html")]["content_hash"]
        != before[site.url("/p/1.html")]["content_hash"]
    )
    assert after[site.url("/new.html")]["http_status"] == 200
    assert after[site.url("/p/5.html")]["status"] == "failed"
    # What the server saw: one request per page, conditional for every page stored before.
    answers = site.answers()
    seen = site.log  # in every message: a failure says what the server answered, in order
    assert {path for path, status in answers if status == 304} == unchanged, seen
    assert answers[("/p/1.html", 200)] == answers[("/new.html", 200)] == 1, seen
    assert answers[("/p/5.html", 404)] == 1, seen
    assert max(answers.values()) == 1, seen
    conditional = {path for path, _status, asked in site.log if asked}
    assert conditional == unchanged | {"/p/1.html", "/p/5.html"}, seen
    config = json.loads(cli(data, "show", second, "--json").stdout)["config"]
    assert config["recrawl_of"] == first
    assert_store_invariants(data)

    result = cli(data, "diff", first, second, "--json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["added"] == [site.url("/new.html")]
    assert diff["removed"] == [site.url("/p/5.html")]
    assert diff["changed"] == [site.url("/p/1.html")]
    assert diff["unchanged"] == len(unchanged)
    assert diff["status_changes"] == [{"url": site.url("/p/5.html"), "from": "200", "to": "404"}]

    text = cli(data, "diff", first[:8], second[:8])
    assert text.returncode == 0, text.stderr
    assert "added 1  removed 1  changed 1" in text.stdout
    assert f"changed  {site.url('/p/1.html')}" in text.stdout

    out = tmp_path / "diff.csv"
    exported = cli(data, "diff", first, second, "--format", "csv", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    with out.open(newline="") as handle:
        rows = {(r["kind"], r["url"]) for r in csv.DictReader(handle)}
    assert rows == {
        ("added", site.url("/new.html")),
        ("removed", site.url("/p/5.html")),
        ("changed", site.url("/p/1.html")),
    }
    lines = cli(data, "diff", first, second, "--format", "jsonl").stdout.splitlines()
    assert sorted(json.loads(line)["kind"] for line in lines) == ["added", "changed", "removed"]


def test_a_server_without_validators_is_fetched_whole(tmp_path: Path) -> None:
    site = ChangingSite.of(linked_site(4))
    site.validators = False
    site.start()
    try:
        data = tmp_path / "d"
        first = _crawl(data, "crawl", site.url("/"))
        site.clear_log()
        second = _crawl(data, "recrawl", first)
        assert not any(asked for _path, _status, asked in site.log)
        assert {row["http_status"] for row in _rows(data, second).values()} == {200}
        diff = json.loads(cli(data, "diff", first, second, "--json").stdout)
        assert diff == {
            "added": [],
            "removed": [],
            "changed": [],
            "unchanged": 5,
            "status_changes": [],
        }
    finally:
        site.stop()


def test_recrawl_refuses_what_it_cannot_recrawl_and_creates_nothing(
    tmp_path: Path, site: ChangingSite
) -> None:
    data = tmp_path / "d"
    unknown = cli(data, "recrawl", "abcdef12", "--headless")
    assert unknown.returncode == 2
    assert len(unknown.stderr.strip().splitlines()) == 1 and "Traceback" not in unknown.stderr
    first = _crawl(data, "crawl", site.url("/"), "--max-pages", "2")
    # As a paused session reads: resumable, so not finished.
    raw = sqlite3.connect(data / "scraper.db")
    raw.execute("UPDATE sessions SET status = 'paused' WHERE id = ?", (first,))
    raw.commit()
    raw.close()
    paused = cli(data, "recrawl", first, "--headless")
    assert paused.returncode == 2
    assert "only a completed or failed session" in paused.stderr
    assert len(paused.stderr.strip().splitlines()) == 1
    listing = json.loads(cli(data, "sessions", "--json").stdout)
    assert [s["id"] for s in listing] == [first]
    same = cli(data, "diff", first, first[:8])
    assert same.returncode == 2 and "same session" in same.stderr
    bad = cli(data, "diff", first, "zz")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    orphan_output = cli(data, "diff", first, first, "-o", str(tmp_path / "x.csv"))
    assert orphan_output.returncode == 2 and not (tmp_path / "x.csv").exists()


def test_a_304_whose_stored_content_is_gone_is_fetched_whole(
    tmp_path: Path, site: ChangingSite
) -> None:
    data = tmp_path / "d"
    first = _crawl(data, "crawl", site.url("/"))
    lost = _rows(data, first)[site.url("/p/2.html")]["raw_html_storage_path"]
    (data / lost).unlink()
    site.clear_log()
    second = _crawl(data, "recrawl", first)
    # Asked "changed since?", told 304, found nothing to point at: asked for the page itself.
    assert [(s, asked) for p, s, asked in site.log if p == "/p/2.html"] == [
        (304, True),
        (200, False),
    ]
    row = _rows(data, second)[site.url("/p/2.html")]
    assert row["status"] == "done" and row["http_status"] == 200
    assert (data / row["raw_html_storage_path"]).exists()


def test_recrawl_on_postgresql(tmp_path: Path, site: ChangingSite, pg_url: str) -> None:
    data = tmp_path / "d"
    db = ("--db", pg_url)
    first = _crawl(data, *db, "crawl", site.url("/"), "--concurrency", "4")
    _change(site)
    site.clear_log()
    second = _crawl(data, *db, "recrawl", first)
    exported = cli(data, *db, "export", second)
    assert exported.returncode == 0, exported.stderr
    statuses = {r["url"]: r["http_status"] for r in map(json.loads, exported.stdout.splitlines())}
    assert statuses[site.url("/deep.html")] == statuses[site.url("/")] == 304
    assert statuses[site.url("/p/1.html")] == statuses[site.url("/new.html")] == 200
    diff = json.loads(cli(data, *db, "diff", first, second, "--json").stdout)
    assert (diff["added"], diff["removed"], diff["changed"]) == (
        [site.url("/new.html")],
        [site.url("/p/5.html")],
        [site.url("/p/1.html")],
    )
    assert diff["unchanged"] == PAGES - 2 + 2


def test_recrawl_detach_runs_in_a_background_worker(tmp_path: Path, site: ChangingSite) -> None:
    data = tmp_path / "d"
    first = _crawl(data, "crawl", site.url("/"))
    site.clear_log()
    started = cli(data, "recrawl", first, "--detach")
    assert started.returncode == 0, started.stderr
    second = started.stdout.strip().splitlines()[0]
    deadline = time.monotonic() + 90
    while json.loads(cli(data, "show", second, "--json").stdout)["status"] != "completed":
        assert time.monotonic() < deadline, "the detached recrawl did not complete"
        time.sleep(0.2)  # polling a condition: the worker's own process finishes it
    statuses = {row["http_status"] for row in _rows(data, second).values()}
    assert statuses == {304}
