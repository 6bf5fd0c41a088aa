"""Revisit records for pages that answered 304, on both backends, from rows written through the
store's own API in the shape a recrawl commits (http_status 304, done, and the content hash and
storage path of the previous session's stored content); and resource records for pages stored
before heads were kept.
"""

from __future__ import annotations

import hashlib
from base64 import b32encode
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.contract.backends import ContractStore
from tests.contract.conftest import backend, harness
from tests.contract.helpers import running_session
from tui_scraper.domain import PageResult, PageStatus
from tui_scraper.domain.progress import Progress
from tui_scraper.export_warc import REVISIT_PROFILE, export_warc

__all__ = ["backend", "harness"]  # the contract suite's fixtures: every test on both backends

BODY = b"<html><title>previous</title>unchanged since the last crawl</html>"
REQUEST = b'GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nIf-None-Match: "v1"\r\n\r\n'
NOT_MODIFIED = (
    b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nDate: Wed, 02 Dec 2026 00:00:00 GMT\r\n\r\n'
)


def _sha1(data: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(data).digest()).decode()


async def _settle(store: ContractStore, result: PageResult) -> str:
    session_id = await running_session(store)
    [seed] = await store.claim_batch(session_id, 1, now=0)
    result.page_id = seed.id
    result.url = seed.url
    await store.checkpoint(session_id, [result], Progress(), heartbeat=1)
    return session_id


async def test_a_304_row_is_a_revisit_of_the_stored_content(
    backend: ContractStore, tmp_path: Path
) -> None:
    # the previous session's content, content-addressed: the recrawl's row names the same blob
    sha, path = backend.blobs.write(BODY, sync=True)
    session_id = await _settle(
        backend,
        PageResult(
            page_id=None,
            url="",
            status=PageStatus.DONE,
            attempts=1,
            http_status=304,
            content_type="text/html",
            content_hash=sha,
            storage_path=path,
            fetched_at=1_764_633_600.25,
            request_head=REQUEST,
            response_head=NOT_MODIFIED,
        ),
    )
    out = tmp_path / "recrawl.warc.gz"
    assert await export_warc(backend, session_id, out) == 1
    with out.open("rb") as fh:
        records = [(r, r.content_stream().read()) for r in ArchiveIterator(fh)]
    types = [r.rec_type for r, _body in records]
    assert types == ["warcinfo", "revisit", "request"]
    revisit, payload = records[1]
    headers = revisit.rec_headers
    assert headers.get_header("WARC-Profile") == REVISIT_PROFILE
    assert headers.get_header("WARC-Target-URI") == "http://127.0.0.1:9/"
    assert headers.get_header("WARC-Refers-To-Target-URI") == "http://127.0.0.1:9/"
    assert headers.get_header("WARC-Payload-Digest") == _sha1(BODY)
    assert headers.get_header("WARC-Date") == "2025-12-02T00:00:00.250000Z"
    assert revisit.http_headers.get_statuscode() == "304"
    assert revisit.http_headers.get_header("ETag") == '"v1"'
    assert payload == b""  # a revisit holds the headers only
    request, _ = records[2]
    assert request.rec_headers.get_header("WARC-Concurrent-To") == headers.get_header(
        "WARC-Record-ID"
    )
    assert request.http_headers.get_header("If-None-Match") == '"v1"'


async def test_a_page_stored_without_heads_is_a_resource_record(
    backend: ContractStore, tmp_path: Path
) -> None:
    sha, path = backend.blobs.write(BODY, sync=True)
    session_id = await _settle(
        backend,
        PageResult(
            page_id=None,
            url="",
            status=PageStatus.DONE,
            attempts=1,
            http_status=200,
            content_type="text/html",
            content_hash=sha,
            storage_path=path,
            fetched_at=1_764_633_600.0,
        ),
    )
    out = tmp_path / "old.warc.gz"
    assert await export_warc(backend, session_id, out) == 1
    with out.open("rb") as fh:
        records = [(r, r.content_stream().read()) for r in ArchiveIterator(fh)]
    assert [r.rec_type for r, _ in records] == ["warcinfo", "resource"]
    resource, body = records[1]
    assert body == BODY
    assert resource.rec_headers.get_header("Content-Type") == "text/html"
    assert resource.rec_headers.get_header("WARC-Payload-Digest") == _sha1(BODY)


async def test_a_page_queued_for_a_retry_has_no_record_yet(
    backend: ContractStore, tmp_path: Path
) -> None:
    session_id = await _settle(
        backend,
        PageResult(
            page_id=None,
            url="",
            status=PageStatus.QUEUED,
            attempts=1,
            next_attempt_at=5.0,
            http_status=503,
            request_head=REQUEST,
            response_head=b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n",
        ),
    )
    out = tmp_path / "retry.warc.gz"
    assert await export_warc(backend, session_id, out) == 0
    with out.open("rb") as fh:
        assert [r.rec_type for r in ArchiveIterator(fh)] == ["warcinfo"]
