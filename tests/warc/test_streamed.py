"""A WARC export streams: a session whose bodies add up to far more than the exporting process
ever holds (300 pages of 1 MiB) is written with a peak RSS of a fraction of that (the real CLI
in a child process, its VmHWM read at exit)."""

from __future__ import annotations

from pathlib import Path

from hardening.conftest import cli
from warcio.archiveiterator import ArchiveIterator

from tests.contract.helpers import config, owner
from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus
from tui_scraper.domain.progress import Progress
from tui_scraper.export_warc import BATCH, export_warc

PAGES = 300
BODY = b"x" * (1 << 20)  # compresses to almost nothing: the test is about memory, not gzip
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1048576\r\n\r\n"


async def _big_session(data: Path, pages: int = PAGES, body: bytes = BODY) -> str:
    store = await Store.open(data)
    try:
        session = await store.create_session(config(), who="test")
        await store.acquire_run(session.id, owner(), who="test", reason="seed")
        [seed] = await store.claim_batch(session.id, 1, now=0)
        sha, path = store.blobs.write(body)
        found = [DiscoveredLink(f"{seed.url}p{n}", 1, seed.id) for n in range(pages - 1)]

        def done(page_id: int, url: str, links: list[DiscoveredLink]) -> PageResult:
            return PageResult(
                page_id=page_id,
                url=url,
                status=PageStatus.DONE,
                attempts=1,
                http_status=200,
                content_type="text/html",
                content_hash=sha,
                storage_path=path,
                fetched_at=1_764_633_600.0,
                size=len(body),
                request_head=b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n",
                response_head=HEAD,
                links=links,
            )

        first = done(seed.id, seed.url, found)
        await store.checkpoint(session.id, [first], Progress(), heartbeat=1)
        claimed = await store.claim_batch(session.id, pages, now=0)
        results = [done(page.id, page.url, []) for page in claimed]
        await store.checkpoint(session.id, results, Progress(), heartbeat=2)
        await store.release_run(session.id)
        return session.id
    finally:
        await store.close()


async def test_a_large_session_is_exported_in_bounded_memory(tmp_path: Path) -> None:
    data = tmp_path / "d"
    session_id = await _big_session(data)
    out = tmp_path / "big.warc.gz"
    hwm = tmp_path / "hwm"
    result = cli(
        data,
        "export",
        session_id,
        "--format",
        "warc",
        "-o",
        str(out),
        env={"HARDENING_HWM_FILE": str(hwm)},
    )
    assert result.returncode == 0, result.stderr
    peak_mib = int(hwm.read_text()) / 1024
    # ~300 MiB of payload went through; an export that kept records or bodies would peak there
    print(f"export peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < 160, f"peak RSS {peak_mib:.0f} MiB"
    with out.open("rb") as fh:
        responses = sum(1 for r in ArchiveIterator(fh) if r.rec_type == "response")
    assert responses == PAGES


async def test_progress_is_told_per_batch_up_to_the_total(tmp_path: Path) -> None:
    data = tmp_path / "d"
    pages = BATCH * 2 + 50
    session_id = await _big_session(data, pages, b"<html>small</html>")
    told: list[tuple[int, int]] = []
    store = await Store.open(data, readonly=True)
    try:
        written = await export_warc(
            store, session_id, tmp_path / "p.warc.gz", progress=lambda d, t: told.append((d, t))
        )
    finally:
        await store.close()
    assert written == pages
    assert told == [(BATCH, pages), (2 * BATCH, pages), (pages, pages)]
