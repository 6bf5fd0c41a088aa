"""`export --format warc`: a real crawl of a local site by the real CLI, exported by the real CLI,
read back with warcio's ArchiveIterator (and indexed by cdxj-indexer, pywb's indexer).

The site has pages with known headers, a gzip-encoded page, a PDF download, a redirect and a 404,
and the crawl sends a secret header that must appear nowhere in the file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import zlib
from base64 import b32encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from engine.site import SiteServer, page_html
from hardening.conftest import cli, only_session
from warcio.archiveiterator import ArchiveIterator

SECRET = "s3cret-token-value"
ZIPPED_HTML = page_html("Zipped", [])


def _zipped(_request: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(ZIPPED_HTML.encode()),
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Encoding": "gzip",
            "X-Known": "zipped",
        },
    )


def _known(_request: web.Request) -> web.Response:
    return web.Response(
        text=page_html("Known", []),
        content_type="text/html",
        headers={"X-Known": "yes", "ETag": '"v1"', "Set-Cookie": "site=1; Path=/"},
    )


def _moved(_request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/new.html")


PDF = b"%PDF-1.4 a small document"
SITE = {
    "/": page_html("Home", ["/known.html", "/gz.html", "/old.html", "/doc.pdf", "/gone.html"]),
    "/new.html": page_html("New", []),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, str, str]]:
    server = SiteServer(
        SITE,
        extra={
            "/known.html": _known,
            "/gz.html": _zipped,
            "/old.html": _moved,
            "/doc.pdf": lambda _r: web.Response(body=PDF, content_type="application/pdf"),
        },
    ).start()
    data = tmp_path_factory.mktemp("warc") / "d"
    try:
        crawl = cli(
            data,
            "crawl",
            server.base + "/",
            "--headless",
            "--download",
            "application/pdf",
            "--header",
            f"X-Secret-Token: {SECRET}",
        )
        assert crawl.returncode == 0, crawl.stderr
    finally:
        server.stop()
    session_id = only_session(data)[0]
    out = data.parent / "crawl.warc.gz"
    result = cli(data, "export", session_id, "--format", "warc", "-o", str(out))
    assert result.returncode == 0, result.stderr
    yield data, out, session_id, server.base


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            records.append(
                {
                    "type": record.rec_type,
                    "warc": dict(record.rec_headers.headers),
                    "http": record.http_headers,
                    "body": record.content_stream().read(),
                }
            )
    return records


def _sha1(data: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(data).digest()).decode()


def test_warcinfo_first_then_a_response_per_answer(exported: tuple[Path, Path, str, str]) -> None:
    _data, out, session_id, base = exported
    records = _records(out)
    assert records[0]["type"] == "warcinfo"
    info = records[0]["body"].decode()
    assert session_id in info and "WARC-Truncated" in info  # the payload rule is stated
    assert records[0]["warc"]["WARC-Filename"] == out.name
    assert all(r["warc"]["WARC-Type"] != "warcinfo" for r in records[1:])
    responses = {r["warc"]["WARC-Target-URI"]: r for r in records if r["type"] == "response"}
    assert set(responses) == {
        base + path
        for path in ("/", "/known.html", "/gz.html", "/old.html", "/doc.pdf", "/gone.html")
    } | {base + "/new.html"}
    statuses = {url[len(base) :]: r["http"].get_statuscode() for url, r in responses.items()}
    assert statuses == {
        "/": "200",
        "/known.html": "200",
        "/gz.html": "200",
        "/old.html": "301",
        "/new.html": "200",
        "/doc.pdf": "200",
        "/gone.html": "404",
    }
    assert records[0]["warc"]["WARC-Type"] == "warcinfo"
    assert {r["warc"].get("WARC-Filename") for r in records[1:]} == {None}


def test_payload_digests_bodies_and_headers(exported: tuple[Path, Path, str, str]) -> None:
    _data, out, _sid, base = exported
    responses = {
        r["warc"]["WARC-Target-URI"][len(base) :]: r
        for r in _records(out)
        if r["type"] == "response"
    }
    for path, record in responses.items():
        # the digest of the payload as read back, which must be the stored body
        assert record["warc"]["WARC-Payload-Digest"] == _sha1(record["body"]), path
        assert record["http"].get_header("Content-Length") == str(len(record["body"])), path
    known = responses["/known.html"]
    assert known["http"].get_header("X-Known") == "yes"
    assert known["http"].get_header("ETag") == '"v1"'
    assert known["http"].get_header("Set-Cookie") == "site=1; Path=/"
    assert known["body"] == page_html("Known", []).encode()
    # gzip on the wire, stored decoded: the record says how it came, and holds the decoded body
    zipped = responses["/gz.html"]
    assert zipped["body"] == ZIPPED_HTML.encode()
    assert zipped["http"].get_header("Content-Encoding") is None
    assert zipped["http"].get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert zipped["http"].get_header("X-Known") == "zipped"
    assert responses["/doc.pdf"]["body"] == PDF
    assert responses["/doc.pdf"]["http"].get_header("Content-Type") == "application/pdf"
    moved = responses["/old.html"]
    assert moved["http"].get_header("Location") == "/new.html"
    assert moved["body"] == b""
    # a 404's body is not kept: an empty payload, marked as not the whole answer
    gone = responses["/gone.html"]
    assert gone["body"] == b"" and gone["warc"]["WARC-Truncated"] == "unspecified"
    assert "WARC-Truncated" not in responses["/known.html"]["warc"]


def test_a_request_record_beside_each_response(exported: tuple[Path, Path, str, str]) -> None:
    _data, out, _sid, base = exported
    records = _records(out)
    responses = {r["warc"]["WARC-Record-ID"]: r for r in records if r["type"] == "response"}
    requests = [r for r in records if r["type"] == "request"]
    assert len(requests) == len(responses)
    for request in requests:
        response = responses[request["warc"]["WARC-Concurrent-To"]]
        target = response["warc"]["WARC-Target-URI"]
        assert request["warc"]["WARC-Target-URI"] == target
        path = target[len(base) :]
        assert request["http"].protocol == "GET"
        assert request["http"].statusline == f"{path} HTTP/1.1"
        assert request["http"].get_header("Host") == base.removeprefix("http://")
        assert request["http"].get_header("User-Agent", "").startswith("tui-scraper/")
        assert request["http"].get_header("X-Secret-Token") is None


def test_secrets_are_nowhere_and_each_record_is_one_gzip_member(
    exported: tuple[Path, Path, str, str],
) -> None:
    data, out, _sid, _base = exported
    raw = out.read_bytes()
    members = 0
    rest = raw
    while rest:
        unzip = zlib.decompressobj(zlib.MAX_WBITS + 16)
        plain = unzip.decompress(rest)
        assert plain.startswith(b"WARC/1.1\r\n")
        assert plain.count(b"\r\nWARC-Type: ") == 1  # one record, whole, per member
        members += 1
        rest = unzip.unused_data
    assert members == len(_records(out))
    assert SECRET.encode() not in gzip.decompress(raw)
    assert SECRET.encode() not in (data / "scraper.db").read_bytes()


def test_pywb_indexer_reads_it(exported: tuple[Path, Path, str, str]) -> None:
    _data, out, _sid, base = exported
    result = subprocess.run(
        [sys.executable, "-m", "cdxj_indexer.main", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    fields = [json.loads(line.split(" ", 2)[2]) for line in lines]
    indexed = {f["url"] for f in fields if f.get("mime") != "warc/request"}
    assert base + "/gz.html" in indexed and base + "/doc.pdf" in indexed
    # every indexed offset points at a record start: one gzip member each
    raw = out.read_bytes()
    for f in fields:
        member = raw[int(f["offset"]) : int(f["offset"]) + int(f["length"])]
        assert gzip.decompress(member).startswith(b"WARC/1.1\r\n")
