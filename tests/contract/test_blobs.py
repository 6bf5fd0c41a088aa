"""Stored content: written before the row that names it; bytes that do not match their name are
written again, never trusted."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from tui_scraper.domain import PageStatus, Progress, ScraperError
from tui_scraper.domain.errors import StorageUnavailable

from .backends import ContractStore, Harness
from .helpers import done, running_session

BODY = b"<html><title>stored</title>" + b"<p>text</p>" * 200 + b"</html>"


async def test_a_blob_reads_back_and_is_named_by_its_hash(backend: ContractStore) -> None:
    sha, rel = backend.blobs.write(BODY)
    assert sha == hashlib.sha256(BODY).hexdigest() and sha in rel
    assert backend.blobs.read(rel) == BODY
    assert backend.blobs.verify(rel, sha)
    assert not backend.blobs.verify(rel, hashlib.sha256(b"other").hexdigest())
    assert backend.blobs.write(BODY) == (sha, rel)  # idempotent
    raw_sha, raw_rel = backend.blobs.write(b"\x89PNG raw", compress=False)
    assert backend.blobs.read(raw_rel) == b"\x89PNG raw" and raw_sha in raw_rel


@pytest.mark.parametrize("damage", [b"", b"zeroed\x00\x00", BODY[:40]])
async def test_a_blob_whose_bytes_do_not_match_its_name_is_rewritten(
    backend: ContractStore, harness: Harness, damage: bytes
) -> None:
    sha, rel = backend.blobs.write(BODY)
    harness.damage_blob(rel, damage)
    assert not backend.blobs.verify(rel, sha)
    with pytest.raises(ScraperError):  # a damaged blob is never handed out as content
        backend.blobs.read(rel)
    assert backend.blobs.write(BODY) == (sha, rel)
    assert backend.blobs.read(rel) == BODY and backend.blobs.verify(rel, sha)


async def test_a_row_never_commits_naming_a_blob_that_is_not_stored(
    backend: ContractStore, harness: Harness
) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    sha, rel = backend.blobs.write(BODY)
    harness.remove_blob(rel)  # gone between the write and the batch commit (blobs/ deleted)
    result = dataclasses.replace(done(seed.id, seed.url), content_hash=sha, storage_path=rel)
    with pytest.raises(StorageUnavailable):
        await backend.checkpoint(session_id, [result], Progress(done=1), heartbeat=1)
    assert await backend.page_status(session_id, seed.url) is PageStatus.FETCHING
    # Written (again) first, the same batch commits, and its row names readable content.
    backend.blobs.write(BODY)
    await backend.checkpoint(session_id, [result], Progress(done=1), heartbeat=1)
    [page] = await backend.pages_after(session_id, status=PageStatus.DONE)
    assert page.storage_path == rel and page.content_hash == sha
    assert backend.blobs.read(rel) == BODY
