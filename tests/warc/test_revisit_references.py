"""What a recrawl's revisits refer to, from rows written through the stores' own API (both
backends): the `earlier_captures` port, the fallback to the page's own URL when no earlier
capture holds the payload, and (a unit over a fake store) that the lookup is one query per
batch per session of the recrawl chain, never one per page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.contract.backends import ContractStore
from tests.contract.conftest import backend, harness
from tests.contract.helpers import SITE, config
from tui_scraper.domain import PageResult, PageStatus
from tui_scraper.domain.progress import Progress
from tui_scraper.domain.records import EarlierCapture, PageRecord, SessionRecord
from tui_scraper.domain.status import Status
from tui_scraper.export_warc import export_warc
from tui_scraper.warc_live import LiveWarc
from tui_scraper.warc_revisits import RevisitReferences

__all__ = ["backend", "harness"]  # the contract suite's fixtures: every test on both backends

URL = f"{SITE}/"
OTHER_SESSION = "0123456789abcdef0123456789abcdef"
NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'
OK = b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Type: text/html\r\n\r\n'


async def _session(store: ContractStore, result: PageResult, recrawl_of: str | None) -> str:
    record = await store.create_session(config(recrawl_of=recrawl_of), who="test")
    await store.transition(record.id, Status.RUNNING, reason="go", who="test")
    [seed] = await store.claim_batch(record.id, 1, now=0)
    result.page_id, result.url = seed.id, seed.url
    await store.checkpoint(record.id, [result], Progress(), heartbeat=1)
    return record.id


def _page(http_status: int, path: str, at: float, head: bytes) -> PageResult:
    return PageResult(
        page_id=None,
        url="",
        status=PageStatus.DONE,
        attempts=1,
        http_status=http_status,
        content_type="text/html",
        content_hash="0" * 64,
        storage_path=path,
        fetched_at=at,
        response_head=head,
    )


async def _revisit_refers_to(store: ContractStore, session_id: str, out: Path) -> tuple[str, str]:
    assert await export_warc(store, session_id, out) == 1
    with out.open("rb") as fh:
        [revisit] = [r for r in ArchiveIterator(fh) if r.rec_type == "revisit"]
    headers = revisit.rec_headers
    return (
        headers.get_header("WARC-Refers-To-Target-URI"),
        headers.get_header("WARC-Refers-To-Date"),
    )


async def test_earlier_captures_are_the_done_pages_with_stored_content(
    backend: ContractStore,
) -> None:
    _sha, path = backend.blobs.write(b"<html>before</html>", sync=True)
    earlier = await _session(backend, _page(200, path, 1_764_633_600.5, OK), None)
    found = await backend.earlier_captures(earlier, [URL, f"{SITE}/never-seen"])
    assert found == {URL: EarlierCapture(URL, 200, 1_764_633_600.5, path)}
    assert await backend.earlier_captures(earlier, []) == {}
    assert await backend.earlier_captures(OTHER_SESSION, [URL]) == {}


async def test_a_revisit_whose_earlier_page_holds_other_content_names_its_own_url(
    backend: ContractStore, tmp_path: Path
) -> None:
    _sha, before = backend.blobs.write(b"<html>before</html>", sync=True)
    _sha, other = backend.blobs.write(b"<html>other</html>", sync=True)
    earlier = await _session(backend, _page(200, before, 1_764_633_600.0, OK), None)
    recrawl = await _session(backend, _page(304, other, 1_764_640_000.0, NOT_MODIFIED), earlier)
    assert await _revisit_refers_to(backend, recrawl, tmp_path / "r.warc.gz") == (URL, None)


async def test_a_chain_that_ends_in_an_unknown_session_names_its_own_url(
    backend: ContractStore, tmp_path: Path
) -> None:
    _sha, path = backend.blobs.write(b"<html>before</html>", sync=True)
    # the earlier session is itself a 304 recrawl of a session that is not in the store
    earlier = await _session(
        backend, _page(304, path, 1_764_633_600.0, NOT_MODIFIED), OTHER_SESSION
    )
    recrawl = await _session(backend, _page(304, path, 1_764_640_000.0, NOT_MODIFIED), earlier)
    assert await _revisit_refers_to(backend, recrawl, tmp_path / "r.warc.gz") == (URL, None)


async def test_a_revisit_names_the_earlier_response_with_its_date(
    backend: ContractStore, tmp_path: Path
) -> None:
    _sha, path = backend.blobs.write(b"<html>before</html>", sync=True)
    earlier = await _session(backend, _page(200, path, 1_764_633_600.25, OK), None)
    recrawl = await _session(backend, _page(304, path, 1_764_640_000.0, NOT_MODIFIED), earlier)
    assert await _revisit_refers_to(backend, recrawl, tmp_path / "r.warc.gz") == (
        URL,
        "2025-12-02T00:00:00.250000Z",
    )


class _CountingChain:
    """Three sessions: c recrawled b, b recrawled a; every page a 200 in a, a 304 after."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.queries: list[tuple[str, int]] = []
        self.sessions_read: list[str] = []

    async def get_session(self, session_id: str) -> SessionRecord:
        self.sessions_read.append(session_id)
        parent = {"c": "b", "b": "a"}.get(session_id[0])
        crawl = config(recrawl_of=_id(parent) if parent else None)
        return SessionRecord(
            _id(session_id[0]), URL, Status.COMPLETED, crawl, Progress(), None, None,
            0.0, None, None, 0.0, None, None, None,
        )  # fmt: skip

    async def earlier_captures(
        self, session_id: str, urls: Sequence[str]
    ) -> dict[str, EarlierCapture]:
        self.queries.append((session_id, len(urls)))
        status = 200 if session_id == _id("a") else 304
        return {url: EarlierCapture(url, status, 1.0, f"blob/{url}") for url in urls}


def _id(letter: str) -> str:
    return letter * 32


def _not_modified(url: str) -> PageRecord:
    return PageRecord(
        id=0, session_id=_id("c"), url=url, depth=1, status=PageStatus.DONE, attempts=1,
        next_attempt_at=None, http_status=304, content_type="text/html", encoding=None,
        content_hash="0" * 64, storage_path=f"blob/{url}", title=None, extracted=None,
        error=None, fetched_at=2.0, elapsed_ms=1, size=0, parent_id=None,
    )  # fmt: skip


async def test_lookups_are_one_query_per_batch_per_session_of_the_chain() -> None:
    urls = [f"{SITE}/p/{i}" for i in range(300)]
    store = _CountingChain(urls)
    references = RevisitReferences(store, await store.get_session("c"))
    store.sessions_read.clear()
    for batch in (urls[:200], urls[200:]):
        found = await references.lookup([_not_modified(url) for url in batch])
        assert set(found) == set(batch)
        assert {capture.http_status for capture in found.values()} == {200}
    assert store.queries == [(_id("b"), 200), (_id("a"), 200), (_id("b"), 100), (_id("a"), 100)]
    assert store.sessions_read == [_id("b")]  # each parent read once, not per batch


async def test_a_live_warc_caught_up_after_a_kill_names_the_earlier_capture(
    backend: ContractStore, tmp_path: Path
) -> None:
    # What a recrawl killed between a commit and its records leaves: a committed 304 that the
    # live file lacks. The next start's catch-up writes it with the same reference.
    _sha, path = backend.blobs.write(b"<html>before</html>", sync=True)
    earlier = await _session(backend, _page(200, path, 1_764_633_600.25, OK), None)
    recrawl = await _session(backend, _page(304, path, 1_764_640_000.0, NOT_MODIFIED), earlier)
    session = await backend.get_session(recrawl)
    live = LiveWarc(
        tmp_path / "live.warc.gz", session, backend.blobs, RevisitReferences(backend, session)
    )
    live.open()
    try:
        assert await live.catch_up(backend.iter_pages(recrawl)) == 1
    finally:
        await live.close()
    with (tmp_path / "live.warc.gz").open("rb") as fh:
        [revisit] = [r for r in ArchiveIterator(fh) if r.rec_type == "revisit"]
    assert revisit.rec_headers.get_header("WARC-Refers-To-Date") == "2025-12-02T00:00:00.250000Z"
