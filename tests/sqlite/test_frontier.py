"""Frontier queries and the checkpoint batch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import PageNotFound, Store
from tui_scraper.backends.sqlite.frontier import _CLAIM_SQL
from tui_scraper.domain import (
    DiscoveredLink,
    DownloadRecord,
    PageResult,
    PageStatus,
    Progress,
    SessionNotFound,
    Status,
)
from tui_scraper.domain.records import PageRecord

from .helpers import config


def links(parent: int, depth: int, names: list[str]) -> list[DiscoveredLink]:
    return [DiscoveredLink(f"http://127.0.0.1:9/{n}", depth, parent) for n in names]


def done(page_id: int, url: str, new: list[DiscoveredLink] | None = None) -> PageResult:
    return PageResult(
        page_id=page_id,
        url=url,
        status=PageStatus.DONE,
        attempts=1,
        http_status=200,
        title="t",
        extracted={"h1": ["x"]},
        fetched_at=1000.0 + page_id,
        size=10,
        links=new or [],
    )


async def new_session(store: Store) -> str:
    record = await store.create_session(config(), who="t")
    await store.transition(record.id, Status.RUNNING, reason="go", who="t")
    return record.id


async def test_claim_orders_by_depth_then_id_and_marks_fetching(store: Store) -> None:
    sid = await new_session(store)
    [seed] = await store.claim_batch(sid, 10, now=0)
    assert await store.claim_batch(sid, 10, now=0) == []
    found = links(seed.id, 2, ["d2a", "d2b"]) + links(seed.id, 1, ["d1a", "d1b", "d1c"])
    assert (
        await store.checkpoint(sid, [done(seed.id, seed.url, found)], Progress(), heartbeat=1) == 5
    )
    first = await store.claim_batch(sid, 4, now=0)
    assert [p.url.rsplit("/", 1)[1] for p in first] == ["d1a", "d1b", "d1c", "d2a"]
    assert all(p.parent_id == seed.id for p in first)
    counts = await store.page_counts(sid)
    assert counts[PageStatus.FETCHING] == 4 and counts[PageStatus.QUEUED] == 1
    assert counts[PageStatus.DONE] == 1


async def test_claim_honours_next_attempt_at(store: Store) -> None:
    sid = await new_session(store)
    [seed] = await store.claim_batch(sid, 1, now=0)
    retry = PageResult(
        page_id=seed.id, url=seed.url, status=PageStatus.QUEUED, attempts=1, next_attempt_at=500.0
    )
    await store.checkpoint(sid, [retry], Progress(), heartbeat=1)
    assert await store.next_due_time(sid) == 500.0
    assert await store.claim_batch(sid, 5, now=499.9) == []
    [again] = await store.claim_batch(sid, 5, now=500.0)
    assert again.id == seed.id and again.attempts == 1
    assert await store.next_due_time(sid) is None


async def test_next_due_time_is_zero_when_something_is_ready(store: Store) -> None:
    sid = await new_session(store)
    assert await store.next_due_time(sid) == 0.0


async def test_requeue_fetching(store: Store) -> None:
    sid = await new_session(store)
    [seed] = await store.claim_batch(sid, 1, now=0)
    await store.checkpoint(
        sid, [done(seed.id, seed.url, links(seed.id, 1, list("abcdef")))], Progress(), heartbeat=1
    )
    claimed = await store.claim_batch(sid, 4, now=0)
    assert len(claimed) == 4
    assert await store.requeue_fetching(sid) == 4
    assert await store.requeue_fetching(sid) == 0
    again = await store.claim_batch(sid, 10, now=0)
    assert [p.id for p in again][:4] == [p.id for p in claimed]


async def test_checkpoint_replay_is_idempotent(store: Store) -> None:
    sid = await new_session(store)
    [seed] = await store.claim_batch(sid, 1, now=0)
    result = done(seed.id, seed.url, links(seed.id, 1, ["a", "b", "a"]))
    result.download = DownloadRecord(
        url=seed.url,
        storage_path="blobs/00/" + "0" * 64,
        mime_type="application/pdf",
        size=3,
        sha256="0" * 64,
        referer_page_id=None,
    )
    progress = Progress(done=1, queued=2, last_url=seed.url)
    assert await store.checkpoint(sid, [result], progress, heartbeat=5.0) == 2
    snapshot = [p async for p in store.iter_pages(sid)]
    assert await store.checkpoint(sid, [result], progress, heartbeat=5.0) == 0
    assert [p async for p in store.iter_pages(sid)] == snapshot
    record = await store.get_session(sid)
    assert record.progress == progress and record.heartbeat_at == 5.0
    page = await store.get_page(seed.id)
    assert page.status == PageStatus.DONE and page.extracted == {"h1": ["x"]}
    assert [p.id for p in await store.recent_pages(sid, 5)] == [seed.id]


@pytest.mark.parametrize("max_pages", [1, 2, 5, 7, 50])
async def test_max_pages_never_exceeded(store: Store, max_pages: int) -> None:
    sid = await new_session(store)
    total = 1
    for round_ in range(4):
        claimed = await store.claim_batch(sid, 3, now=0)
        results = [
            done(p.id, p.url, links(p.id, p.depth + 1, [f"r{round_}p{p.id}l{i}" for i in range(4)]))
            for p in claimed
        ]
        total += await store.checkpoint(sid, results, Progress(), heartbeat=1, max_pages=max_pages)
        counts = await store.page_counts(sid)
        assert sum(counts.values()) == total <= max_pages
    assert total == min(max_pages, 41)  # the limit is reached exactly, never passed


async def test_page_queries_errors_and_iteration(store: Store) -> None:
    sid = await new_session(store)
    other = await new_session(store)
    [seed] = await store.claim_batch(sid, 1, now=0)
    await store.checkpoint(
        sid,
        [done(seed.id, seed.url, links(seed.id, 1, list("abcdefghij")))],
        Progress(),
        heartbeat=1,
    )
    await store.checkpoint(other, [], Progress(), heartbeat=1)
    all_pages = [p async for p in store.iter_pages(sid, batch=3)]
    assert len(all_pages) == 11 and [p.id for p in all_pages] == sorted(p.id for p in all_pages)
    queued = [p async for p in store.iter_pages(sid, status=PageStatus.QUEUED, batch=4)]
    assert len(queued) == 10
    assert [p async for p in store.iter_pages(sid, status=PageStatus.FAILED)] == []
    with pytest.raises(PageNotFound):
        await store.get_page(10**9)
    with pytest.raises(SessionNotFound):
        await store.checkpoint("a" * 32, [], Progress(), heartbeat=1)


def plan(db_path: Path, sql: str, params: tuple[object, ...]) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        return [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    finally:
        db.close()


async def test_frontier_queries_use_indexes(store: Store, data_dir: Path) -> None:
    await new_session(store)
    db_path = data_dir / "scraper.db"
    claim = plan(db_path, _CLAIM_SQL, ("x", 0.0, 10))
    assert any("pages_frontier" in step and "session_id=? AND status=?" in step for step in claim)
    assert not any(step.startswith("SCAN") or "TEMP B-TREE" in step for step in claim), claim
    queries = [
        "SELECT status, count(*) FROM pages WHERE session_id = ? GROUP BY status",
        "UPDATE pages SET status = 'queued' WHERE session_id = ? AND status = 'fetching'",
        "SELECT min(next_attempt_at) FROM pages WHERE session_id = ? AND status = 'queued' "
        "AND next_attempt_at IS NOT NULL",
        "SELECT * FROM pages WHERE session_id = ? AND fetched_at IS NOT NULL "
        "ORDER BY fetched_at DESC, id DESC LIMIT 5",
    ]
    for sql in queries:
        steps = plan(db_path, sql, ("x",))
        assert not any(step.startswith("SCAN pages") and "INDEX" not in step for step in steps), (
            sql,
            steps,
        )
        assert any(step.startswith("SEARCH pages") for step in steps), (sql, steps)


async def test_stored_progress_counts_the_links_its_checkpoint_queued(store: Store) -> None:
    """`sessions` reads the stored progress, the live view adds `inserted` after the commit: the
    two agree only if the stored queue already holds the links that commit inserted."""
    sid = await new_session(store)
    [seed] = await store.claim_batch(sid, 10, now=0)
    found = links(seed.id, 1, ["a", "b", "c"])
    live = Progress(done=1, queued=0)
    inserted = await store.checkpoint(sid, [done(seed.id, seed.url, found)], live, heartbeat=1)
    stored = (await store.get_session(sid)).progress
    counts = await store.page_counts(sid)
    assert stored.queued == live.queued + inserted == counts[PageStatus.QUEUED] == 3


def test_progress_stored_by_an_older_version_still_loads() -> None:
    old = {
        "done": 3,
        "failed": 1,
        "skipped": 0,
        "queued": 9,
        "fetching": 2,
        "bytes": 10,
        "pages_per_s": 4.0,
        "elapsed_s": 2.0,
        "last_url": "u",
        "host_states": {},
    }
    loaded = Progress.from_dict(old)
    assert (loaded.done, loaded.queued, loaded.avg_pages_per_s, loaded.waiting) == (3, 9, 0.0, "")
    assert Progress.from_dict({**old, "from_the_future": 1}).done == 3


async def test_done_pages_whose_content_is_gone_are_queued_again(
    store: Store, data_dir: Path
) -> None:
    sid = await new_session(store)
    [seed] = await store.claim_batch(sid, 10, now=0)
    await store.checkpoint(
        sid, [done(seed.id, seed.url, links(seed.id, 1, ["a", "b"]))], Progress(), heartbeat=1
    )
    claimed = await store.claim_batch(sid, 10, now=0)
    results = []
    for page in [seed, *claimed]:
        _sha, rel = store.blobs.write(f"content of {page.url}".encode())
        result = done(page.id, page.url)
        result.storage_path, result.size = rel, 20
        results.append((page, rel, result))
    await store.checkpoint(sid, [r for _p, _rel, r in results], Progress(), heartbeat=2)
    (_p0, kept, _r0), (p1, deleted, _r1), (p2, truncated, _r2) = results
    (data_dir / deleted).unlink()
    (data_dir / truncated).write_bytes(b"")
    assert await store.requeue_lost_content(sid) == 2
    states = {p.url: p.status for p in await _all_pages(store, sid)}
    assert states[p1.url] is states[p2.url] is PageStatus.QUEUED
    assert states[seed.url] is PageStatus.DONE and (data_dir / kept).is_file()
    assert await store.requeue_lost_content(sid) == 0  # queued rows are not looked at again


async def _all_pages(store: Store, sid: str) -> list[PageRecord]:
    return [page async for page in store.iter_pages(sid)]
