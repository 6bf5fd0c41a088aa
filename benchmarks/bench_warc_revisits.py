"""What a recrawl's revisit references cost in a WARC export: CPU per page, with and without.

    python benchmarks/bench_warc_revisits.py [--pages 5000] [--rounds 3] [--chain 2]

Seeds a SQLite store through its own API: a crawl of --pages pages (200, a small body each),
then --chain recrawls of it, each page a 304 naming the same stored content. Each round
exports the last recrawl as WARC twice, interleaved: as it is (every revisit looked up back
through the chain, `earlier_captures` once per batch per session) and with the lookup
turned off (the revisit names its own URL, as before the references). Prints the CPU of this
process (user + sys, the writer thread included) per page and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tui_scraper import warc_revisits  # noqa: E402
from tui_scraper.backends.sqlite import Store  # noqa: E402
from tui_scraper.domain import CrawlConfig, DiscoveredLink, LeaseOwner, PageResult  # noqa: E402
from tui_scraper.domain.progress import Progress  # noqa: E402
from tui_scraper.domain.status import PageStatus  # noqa: E402
from tui_scraper.export_warc import export_warc  # noqa: E402

SITE = "http://127.0.0.1:9/"
BODY = b"<html><title>t</title>" + b"lorem ipsum " * 100 + b"</html>"
OK = b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Type: text/html\r\n\r\n'
NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"


async def _session(store: Store, pages: int, recrawl_of: str | None, at: float) -> str:
    import os
    import time

    config = CrawlConfig(target_url=SITE).with_changes(recrawl_of=recrawl_of)
    session = await store.create_session(config, who="bench")
    who = LeaseOwner(host="bench", pid=os.getpid(), process_start=time.time(), run_id=session.id)
    await store.acquire_run(session.id, who, who="bench", reason="seed")
    sha, path = store.blobs.write(BODY)
    status, head = (200, OK) if recrawl_of is None else (304, NOT_MODIFIED)

    def result(page_id: int, url: str, links: list[DiscoveredLink]) -> PageResult:
        return PageResult(
            page_id=page_id, url=url, status=PageStatus.DONE, attempts=1, http_status=status,
            content_type="text/html", content_hash=sha, storage_path=path, fetched_at=at,
            size=len(BODY), request_head=REQUEST, response_head=head, links=links,
        )  # fmt: skip

    [seed] = await store.claim_batch(session.id, 1, now=0)
    found = [DiscoveredLink(f"{SITE}p{n}", 1, seed.id) for n in range(pages - 1)]
    await store.checkpoint(session.id, [result(seed.id, seed.url, found)], Progress(), heartbeat=1)
    while claimed := await store.claim_batch(session.id, 500, now=0):
        results = [result(page.id, page.url, []) for page in claimed]
        await store.checkpoint(session.id, results, Progress(), heartbeat=2)
    await store.release_run(session.id)
    return session.id


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _export(store: Store, session_id: str, out: Path, references: bool) -> float:
    original = warc_revisits.RevisitReferences.lookup

    async def no_lookup(self: object, pages: object) -> dict[str, object]:
        return {}

    if not references:
        warc_revisits.RevisitReferences.lookup = no_lookup  # type: ignore[assignment,method-assign]
    try:
        before = _cpu()
        await export_warc(store, session_id, out)
        return _cpu() - before
    finally:
        warc_revisits.RevisitReferences.lookup = original  # type: ignore[method-assign]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chain", type=int, default=2, help="recrawls after the crawl (>= 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "d")
        try:
            last = await _session(store, args.pages, None, 1_764_633_600.0)
            for hop in range(max(1, args.chain)):
                last = await _session(store, args.pages, last, 1_764_640_000.0 + hop)
            runs: dict[bool, list[float]] = {True: [], False: []}
            for round_no in range(args.rounds):
                for references in (True, False) if round_no % 2 == 0 else (False, True):
                    cpu = await _export(store, last, Path(tmp) / "out.warc.gz", references)
                    runs[references].append(cpu / args.pages * 1e6)
                    label = "references" if references else "own URL   "
                    print(f"round {round_no + 1} {label}: {runs[references][-1]:.1f} us CPU/page")
        finally:
            await store.close()
    with_refs, without = (statistics.median(runs[flag]) for flag in (True, False))
    print(
        f"median: references {with_refs:.1f} us/page, own URL {without:.1f} us/page, "
        f"lookup {with_refs - without:+.1f} us/page ({args.pages} pages, chain {args.chain})"
    )


if __name__ == "__main__":
    asyncio.run(main())
