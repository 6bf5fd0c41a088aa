"""The frontier: seed, claims, due times, batch commits, exact dedup, requeues, counts, progress."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tui_scraper.domain import PageResult, PageStatus, Progress, SessionNotFound

from .backends import ContractStore, Harness
from .helpers import SITE, done, links, running_session


async def claim_all(store: ContractStore, session_id: str, now: float = 0.0) -> list[int]:
    return [page.id for page in await store.claim_batch(session_id, 10_000, now)]


async def test_seed_is_the_only_queued_page_of_a_new_session(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    counts = await backend.page_counts(session_id)
    assert counts == {**dict.fromkeys(PageStatus, 0), PageStatus.QUEUED: 1}
    assert await backend.next_due_time(session_id) == 0.0
    [seed] = await backend.claim_batch(session_id, 10, now=0)
    assert (seed.url, seed.depth, seed.attempts, seed.parent_id) == (f"{SITE}/", 0, 0, None)
    assert await backend.page_status(session_id, seed.url) is PageStatus.FETCHING
    assert await backend.claim_batch(session_id, 10, now=0) == []
    assert await backend.next_due_time(session_id) is None  # nothing queued


async def test_claims_go_shallowest_first_and_hand_each_page_out_once(
    backend: ContractStore,
) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    found = links(seed.id, 2, [f"deep{i}" for i in range(20)])
    found += links(seed.id, 1, [f"near{i}" for i in range(20)])
    assert await backend.checkpoint(
        session_id, [done(seed.id, seed.url, found)], Progress(), heartbeat=1
    ) == len(found)
    assert await backend.claim_batch(session_id, 0, now=0) == []
    first = await backend.claim_batch(session_id, 25, now=0)
    assert [p.url.rsplit("/", 1)[1] for p in first[:20]] == [f"near{i}" for i in range(20)]
    assert [p.depth for p in first] == [1] * 20 + [2] * 5
    # Claims racing each other still hand every page out exactly once.
    batches = await asyncio.gather(*(backend.claim_batch(session_id, 3, now=0) for _ in range(8)))
    ids = [p.id for p in first] + [p.id for batch in batches for p in batch]
    assert len(ids) == len(set(ids)) == len(found)
    assert await backend.claim_batch(session_id, 10, now=0) == []


async def test_a_retry_waits_for_its_due_time(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    retry = PageResult(seed.id, seed.url, PageStatus.QUEUED, attempts=1, next_attempt_at=100.0)
    await backend.checkpoint(session_id, [retry], Progress(), heartbeat=1)
    assert await backend.page_status(session_id, seed.url) is PageStatus.QUEUED
    assert await backend.next_due_time(session_id) == 100.0
    assert await backend.claim_batch(session_id, 10, now=99.9) == []
    [again] = await backend.claim_batch(session_id, 10, now=100.0)
    assert (again.id, again.attempts) == (seed.id, 1)
    assert await backend.next_due_time(session_id) is None


async def test_next_due_time_is_the_earliest_retry_unless_a_page_is_due_now(
    backend: ContractStore,
) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(
        session_id,
        [done(seed.id, seed.url, links(seed.id, 1, ["a", "b"]))],
        Progress(),
        heartbeat=1,
    )
    a, b = await backend.claim_batch(session_id, 2, now=0)
    results = [
        PageResult(a.id, a.url, PageStatus.QUEUED, 1, next_attempt_at=300.0),
        PageResult(b.id, b.url, PageStatus.QUEUED, 1, next_attempt_at=200.0, links=[]),
    ]
    await backend.checkpoint(session_id, results, Progress(), heartbeat=2)
    assert await backend.next_due_time(session_id) == 200.0
    await backend.checkpoint(
        session_id, [done(a.id, a.url, links(a.id, 2, ["c"]))], Progress(), heartbeat=3
    )
    assert await backend.next_due_time(session_id) == 0.0  # "c" has no retry time: due now


async def test_a_result_and_its_links_commit_together_or_not_at_all(
    backend: ContractStore,
) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    good = done(seed.id, seed.url, links(seed.id, 1, ["x", "y"]))
    # A second result the store cannot write (a status no page can have) fails the batch
    # after the first one's row was written: the whole batch must roll back.
    bad = dataclasses.replace(
        done(seed.id, f"{SITE}/z"),
        page_id=None,
        status="bogus",  # type: ignore[arg-type]
    )
    before = await backend.get_session(session_id)
    with pytest.raises(ValueError):
        await backend.checkpoint(session_id, [good, bad], Progress(done=1), heartbeat=5)
    assert await backend.page_status(session_id, seed.url) is PageStatus.FETCHING
    for name in ("x", "y", "z"):
        assert await backend.page_status(session_id, f"{SITE}/{name}") is None
    after = await backend.get_session(session_id)
    assert (after.progress, after.heartbeat_at) == (before.progress, before.heartbeat_at)
    # The same batch without the bad result commits whole.
    assert await backend.checkpoint(session_id, [good], Progress(done=1), heartbeat=5) == 2
    assert await backend.page_status(session_id, seed.url) is PageStatus.DONE
    assert await backend.page_status(session_id, f"{SITE}/x") is PageStatus.QUEUED


async def test_dedup_is_exact_a_url_discovered_twice_is_stored_once(
    backend: ContractStore,
) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    # The seed links to itself and to "a" twice, in one result.
    found = links(seed.id, 1, ["a", "a", "b", ""])
    assert (
        await backend.checkpoint(
            session_id, [done(seed.id, seed.url, found)], Progress(), heartbeat=1
        )
        == 2
    )
    a, b = await backend.claim_batch(session_id, 2, now=0)
    # Two results of one batch discover "c" (and "a" again): one new row.
    results = [
        done(a.id, a.url, links(a.id, 2, ["c", "a"])),
        done(b.id, b.url, links(b.id, 2, ["c"])),
    ]
    assert await backend.checkpoint(session_id, results, Progress(), heartbeat=2) == 1
    # A replay of the same batch (a crash after COMMIT, before the caller heard of it) adds none.
    assert await backend.checkpoint(session_id, results, Progress(), heartbeat=2) == 0
    urls = [page.url async for page in backend.iter_pages(session_id)]
    assert sorted(urls) == sorted(f"{SITE}/{name}" for name in ("", "a", "b", "c"))
    assert sum((await backend.page_counts(session_id)).values()) == 4
    # URLs differing only where a canonical URL would not fold them stay distinct.
    [c] = await backend.claim_batch(session_id, 1, now=0)
    case = links(c.id, 3, ["C", "c/", "c?x=1"])
    assert (
        await backend.checkpoint(session_id, [done(c.id, c.url, case)], Progress(), heartbeat=3)
        == 3
    )


async def test_sessions_have_separate_frontiers(backend: ContractStore) -> None:
    first = await running_session(backend)
    second = await running_session(backend)
    [seed] = await backend.claim_batch(first, 1, now=0)
    await backend.checkpoint(
        first, [done(seed.id, seed.url, links(seed.id, 1, ["a"]))], Progress(), heartbeat=1
    )
    assert await backend.page_status(second, f"{SITE}/a") is None
    assert [p.url for p in await backend.claim_batch(second, 10, now=0)] == [f"{SITE}/"]
    with pytest.raises(SessionNotFound):
        await backend.checkpoint("c" * 32, [], Progress(), heartbeat=1)


async def test_max_pages_bounds_the_frontier_exactly(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    found = links(seed.id, 1, [f"p{i}" for i in range(10)])
    added = await backend.checkpoint(
        session_id, [done(seed.id, seed.url, found)], Progress(), heartbeat=1, max_pages=4
    )
    assert added == 3
    assert sum((await backend.page_counts(session_id)).values()) == 4


async def test_requeue_fetching_returns_a_dead_runs_claims(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(
        session_id,
        [done(seed.id, seed.url, links(seed.id, 1, ["a", "b", "c"]))],
        Progress(),
        heartbeat=1,
    )
    claimed = await claim_all(backend, session_id)
    assert len(claimed) == 3
    assert await backend.requeue_fetching(session_id) == 3
    assert (await backend.page_counts(session_id))[PageStatus.FETCHING] == 0
    assert sorted(await claim_all(backend, session_id)) == sorted(claimed)
    assert await backend.page_status(session_id, seed.url) is PageStatus.DONE  # untouched


async def test_requeue_lost_content_queues_done_pages_whose_blob_is_gone(
    backend: ContractStore, harness: Harness
) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(
        session_id, [done(seed.id, seed.url, links(seed.id, 1, ["a"]))], Progress(), heartbeat=1
    )
    [a] = await backend.claim_batch(session_id, 1, now=0)
    results = []
    stored = {}
    for page, body in ((seed, b"<html>seed</html>"), (a, b"<html>a</html>")):
        sha, rel = backend.blobs.write(body)
        stored[page.id] = rel
        results.append(
            dataclasses.replace(done(page.id, page.url), content_hash=sha, storage_path=rel)
        )
    await backend.checkpoint(session_id, results, Progress(), heartbeat=2)
    assert await backend.requeue_lost_content(session_id) == 0
    harness.remove_blob(stored[a.id])
    assert await backend.requeue_lost_content(session_id) == 1
    assert await backend.page_status(session_id, a.url) is PageStatus.QUEUED
    assert await backend.page_status(session_id, seed.url) is PageStatus.DONE
    [again] = await backend.claim_batch(session_id, 1, now=0)
    assert again.id == a.id and again.attempts == 1  # attempts untouched: not the page's fault


async def test_page_counts_and_status_follow_every_settlement(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(
        session_id,
        [done(seed.id, seed.url, links(seed.id, 1, ["a", "b", "c"]))],
        Progress(),
        heartbeat=1,
    )
    a, b, c = await backend.claim_batch(session_id, 3, now=0)
    results = [
        done(a.id, a.url),
        PageResult(b.id, b.url, PageStatus.FAILED, 3, error={"kind": "http", "status": 500}),
        PageResult(c.id, c.url, PageStatus.SKIPPED, 1, error={"kind": "robots"}),
    ]
    await backend.checkpoint(session_id, results, Progress(), heartbeat=2)
    assert await backend.page_counts(session_id) == {
        PageStatus.QUEUED: 0,
        PageStatus.FETCHING: 0,
        PageStatus.DONE: 2,
        PageStatus.FAILED: 1,
        PageStatus.SKIPPED: 1,
    }
    assert await backend.page_status(session_id, b.url) is PageStatus.FAILED
    assert await backend.page_status(session_id, f"{SITE}/nowhere") is None
    failed = await backend.pages_after(session_id, status=PageStatus.FAILED)
    assert [(p.url, p.attempts, p.error) for p in failed] == [
        (b.url, 3, {"kind": "http", "status": 500})
    ]


async def test_progress_is_derived_from_the_store(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    live = Progress(done=1, queued=0, bytes=10)
    inserted = await backend.checkpoint(
        session_id, [done(seed.id, seed.url, links(seed.id, 1, ["a", "b"]))], live, heartbeat=42.0
    )
    record = await backend.get_session(session_id)
    # What the commit queued is in the stored figures: a reader agrees with the live view.
    assert record.progress.queued == live.queued + inserted == 2
    assert record.progress.done == 1 and record.progress.bytes == 10
    assert record.heartbeat_at == 42.0
    counts = await backend.page_counts(session_id)
    assert record.progress.queued == counts[PageStatus.QUEUED]
    assert record.progress.done == counts[PageStatus.DONE]
