"""A recrawl's WARC end to end, through the real CLI in child processes: a site that answers
conditional requests like nginx, a crawl, a recrawl with some pages edited, and both sessions
exported as WARC and read back with warcio. Each 304 is a revisit that names the earlier
session's response record (WARC-Refers-To-Target-URI + WARC-Refers-To-Date) and carries its
payload digest; a recrawl of a recrawl names the capture that recorded the payload. On SQLite
and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.engine.conftest import cli
from tests.engine.site import page_html
from tests.recrawl.site import ChangingSite, linked_site
from tui_scraper.export_warc import REVISIT_PROFILE

PAGES = 6
Run = Callable[..., str]


@dataclass(frozen=True)
class Capture:
    date: str
    payload_digest: str | None


@dataclass
class Warc:
    responses: dict[str, Capture]  # URL -> its response record
    revisits: dict[str, tuple[str, str | None, str]]  # URL -> (refers-to URI, date, digest)
    info: bytes

    def resolves(self, uri: str, date: str | None) -> Capture | None:
        capture = self.responses.get(uri)
        return capture if capture is not None and capture.date == date else None


def _read(path: Path) -> Warc:
    responses: dict[str, Capture] = {}
    revisits: dict[str, tuple[str, str | None, str]] = {}
    info = b""
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            headers = record.rec_headers
            url = headers.get_header("WARC-Target-URI")
            if record.rec_type == "warcinfo":
                info = record.content_stream().read()
            elif record.rec_type == "response":
                assert url not in responses, url  # one response per page
                responses[url] = Capture(
                    headers.get_header("WARC-Date"), headers.get_header("WARC-Payload-Digest")
                )
            elif record.rec_type == "revisit":
                assert url not in revisits, url
                assert headers.get_header("WARC-Profile") == REVISIT_PROFILE
                assert record.http_headers.get_statuscode() == "304"
                revisits[url] = (
                    headers.get_header("WARC-Refers-To-Target-URI"),
                    headers.get_header("WARC-Refers-To-Date"),
                    headers.get_header("WARC-Payload-Digest"),
                )
    return Warc(responses, revisits, info)


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    server = ChangingSite.of(linked_site(PAGES)).start()
    yield server
    server.stop()


def _runner(data: Path, *store: str) -> Run:
    def run(*args: str) -> str:
        result = cli(data, *store, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""

    return run


def _export(run: Run, tmp_path: Path, session_id: str) -> Warc:
    out = tmp_path / f"{session_id[:8]}.warc.gz"
    run("export", session_id, "--format", "warc", "-o", str(out))
    return _read(out)


def _recrawl(run: Run, site: ChangingSite, session_id: str) -> tuple[str, set[str], set[str]]:
    """A recrawl of `session_id`: its id, and the URLs the server answered 304 and 200."""
    site.clear_log()
    recrawl = run("recrawl", session_id, "--headless")
    answers = site.answers()
    not_modified = {site.url(path) for path, status in answers if status == 304}
    fetched = {site.url(path) for path, status in answers if status == 200}
    return recrawl, not_modified, fetched


def _check_recrawl(earlier: Warc, recrawl: Warc, not_modified: set[str], fetched: set[str]) -> None:
    assert set(recrawl.responses) == fetched
    assert set(recrawl.revisits) == not_modified
    for url, (uri, date, digest) in recrawl.revisits.items():
        assert uri == url  # the earlier session's page with that content has the same URL
        capture = earlier.resolves(uri, date)
        assert capture is not None, (url, uri, date, earlier.responses.get(uri))
        assert digest == capture.payload_digest, url


def _edit(site: ChangingSite, path: str, title: str) -> None:
    site.put(path, page_html(title, [f"/p/{(int(path[3]) + 1) % PAGES}.html"], 6))


def _crawl_recrawl_export(run: Run, site: ChangingSite, tmp_path: Path) -> tuple[Warc, str, Warc]:
    first = run("crawl", site.url("/"), "--headless", "--concurrency", "3")
    earlier = _export(run, tmp_path, first)
    assert not earlier.revisits and len(earlier.responses) == PAGES + 1
    _edit(site, "/p/1.html", "Page 1, edited")
    second, not_modified, fetched = _recrawl(run, site, first)
    assert fetched == {site.url("/p/1.html")} and len(not_modified) == PAGES, site.log
    recrawl = _export(run, tmp_path, second)
    _check_recrawl(earlier, recrawl, not_modified, fetched)
    assert b"tui-scraper-recrawl-of: tui-scraper session " + first.encode() in recrawl.info
    return earlier, second, recrawl


def test_revisits_name_the_earlier_capture_and_chain_through_a_recrawl_of_a_recrawl(
    tmp_path: Path, site: ChangingSite
) -> None:
    run = _runner(tmp_path / "d")
    first_warc, second, second_warc = _crawl_recrawl_export(run, site, tmp_path)

    _edit(site, "/p/2.html", "Page 2, edited")
    third, not_modified, fetched = _recrawl(run, site, second)
    assert fetched == {site.url("/p/2.html")}, site.log
    third_warc = _export(run, tmp_path, third)
    assert set(third_warc.responses) == fetched
    assert set(third_warc.revisits) == not_modified
    for url, (uri, date, digest) in third_warc.revisits.items():
        # /p/1.html's payload was recorded by the first recrawl; every other unchanged page's
        # by the first crawl, past the first recrawl's 304 (whose record has no payload).
        holder = second_warc if url == site.url("/p/1.html") else first_warc
        capture = holder.resolves(uri, date)
        assert capture is not None, (url, date)
        assert digest == capture.payload_digest, url
    assert (
        third_warc.revisits[site.url("/p/1.html")][1]
        != first_warc.responses.get(site.url("/p/1.html"), Capture("", None)).date
    )


def test_revisits_name_the_earlier_capture_on_postgresql(
    tmp_path: Path, site: ChangingSite, pg_url: str
) -> None:
    _crawl_recrawl_export(_runner(tmp_path / "d", "--db", pg_url), site, tmp_path)


def test_a_recrawl_of_a_session_crawled_with_warc_leaves_that_file_alone(
    tmp_path: Path, site: ChangingSite
) -> None:
    data = tmp_path / "d"
    run = _runner(data)
    live = tmp_path / "live.warc.gz"
    first = run("crawl", site.url("/"), "--headless", "--warc", str(live))
    before = live.read_bytes(), (tmp_path / "live.warc.gz.journal").read_bytes()
    _edit(site, "/p/1.html", "Page 1, edited")
    second, _not_modified, _fetched = _recrawl(run, site, first)
    # The earlier archive is that session's alone: the recrawl neither appends to it nor takes
    # its journal as its own (which would leave the recrawl's pages out as written already).
    assert (live.read_bytes(), (tmp_path / "live.warc.gz.journal").read_bytes()) == before
    assert '"warc_path"' in cli(data, "show", first, "--json").stdout  # where it would show
    shown = cli(data, "show", second, "--json")
    assert '"warc_path"' not in shown.stdout, shown.stdout


def test_recrawl_warc_writes_the_recrawl_live_with_revisits_naming_the_earlier_capture(
    tmp_path: Path, site: ChangingSite
) -> None:
    data = tmp_path / "d"
    run = _runner(data)
    first = run("crawl", site.url("/"), "--headless")
    earlier = _export(run, tmp_path, first)
    _edit(site, "/p/1.html", "Page 1, edited")
    taken = tmp_path / "taken.warc.gz"
    taken.write_bytes(b"kept")
    refused = cli(data, "recrawl", first, "--headless", "--warc", str(taken))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert taken.read_bytes() == b"kept"
    assert len(json.loads(cli(data, "sessions", "--json").stdout)) == 1  # nothing created

    site.clear_log()
    live = tmp_path / "recrawl.warc.gz"
    run("recrawl", first, "--headless", "--warc", str(live))
    answers = site.answers()
    not_modified = {site.url(path) for path, status in answers if status == 304}
    fetched = {site.url(path) for path, status in answers if status == 200}
    assert fetched == {site.url("/p/1.html")} and len(not_modified) == PAGES, site.log
    _check_recrawl(earlier, _read(live), not_modified, fetched)
