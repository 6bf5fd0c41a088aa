"""Analytics rows: added in the checkpoint's transaction, on every backend, and only for what
that transaction wrote."""

from __future__ import annotations

import dataclasses

import pytest

from tui_scraper.backends.postgres import Store as PostgresStore
from tui_scraper.domain import PageResult, PageStatus, Progress
from tui_scraper.domain.analytics import TOTALS
from tui_scraper.engine.analytics import tally

from .backends import ContractStore, Harness
from .helpers import done, links, running_session


def _by_metric(rows: list[tuple[int, str, str, int]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for _bucket, metric, key, n in rows:
        out[metric, key] = out.get((metric, key), 0) + n
    return out


async def _seeded(store: ContractStore, names: list[str]) -> tuple[str, list[int]]:
    session_id = await running_session(store)
    [seed] = await store.claim_batch(session_id, 1, now=0)
    await store.checkpoint(
        session_id,
        [done(seed.id, seed.url, links(seed.id, 1, names))],
        Progress(),
        heartbeat=1,
        tally=tally,
    )
    return session_id, [seed.id]


async def test_checkpoints_add_up_and_read_back_per_session(
    backend: ContractStore, harness: Harness
) -> None:
    session_id, _ = await _seeded(backend, ["a", "b", "c"])
    other, _ = await _seeded(backend, ["x"])
    claimed = await backend.claim_batch(session_id, 3, now=0)
    a, b, c = claimed
    results = [
        done(a.id, a.url),
        PageResult(
            page_id=b.id,
            url=b.url,
            status=PageStatus.FAILED,
            attempts=1,
            http_status=404,
            error={"kind": "http", "message": "HTTP 404"},
            fetched_at=1000.0,
        ),
        PageResult(
            page_id=c.id,
            url=c.url,
            status=PageStatus.QUEUED,
            attempts=1,
            next_attempt_at=0,
            http_status=500,
            error={"kind": "http", "message": "HTTP 500"},
        ),
    ]
    await backend.checkpoint(session_id, results, Progress(), heartbeat=1002, tally=tally)
    [again] = await backend.claim_batch(session_id, 1, now=10_000)
    assert again.id == c.id
    await backend.checkpoint(
        session_id,
        [dataclasses.replace(done(c.id, c.url), attempts=2)],
        Progress(),
        heartbeat=1010,
        tally=tally,
    )
    figures = _by_metric(await backend.analytics_rows(session_id))
    assert figures["status", "200"] == 3  # the seed, a, and c's second attempt
    assert figures["status", "404"] == 1 and figures["status", "500"] == 1
    assert figures["retries", ""] == 1
    assert figures["outcome", "done"] == 3 and figures["outcome", "failed"] == 1
    assert figures["bytes", ""] == 30
    assert figures["attempts", "1"] == 1  # c took one retry
    assert figures["host_errors", "127.0.0.1:9"] == 2  # the 404 and the 500
    assert _by_metric(await backend.analytics_rows(other))["status", "200"] == 1
    reader = await harness.open(readonly=True)
    try:
        assert sorted(await reader.analytics_rows(session_id)) == sorted(
            await backend.analytics_rows(session_id)
        )
    finally:
        await reader.close()
    totals = [r for r in await backend.analytics_rows(session_id) if r[0] == TOTALS]
    assert {r[1] for r in totals} >= {"host_pages", "depth", "attempts", "reason"}


async def test_a_checkpoint_that_fails_adds_nothing(backend: ContractStore) -> None:
    session_id, _ = await _seeded(backend, ["a"])
    before = await backend.analytics_rows(session_id)
    [a] = await backend.claim_batch(session_id, 1, now=0)
    # The result names stored content that does not exist: the checkpoint refuses it whole.
    missing = dataclasses.replace(
        done(a.id, a.url), content_hash="0" * 64, storage_path="blobs/00/" + "0" * 64
    )
    with pytest.raises(Exception):  # noqa: B017 - each backend names the missing blob its way
        await backend.checkpoint(session_id, [missing], Progress(), heartbeat=5, tally=tally)
    assert sorted(await backend.analytics_rows(session_id)) == sorted(before)


async def test_without_a_tally_nothing_is_counted(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(session_id, [done(seed.id, seed.url)], Progress(), heartbeat=1)
    assert await backend.analytics_rows(session_id) == []


async def test_postgres_counts_once_what_a_replay_or_a_stale_worker_sends_again(
    pg_url: str,
) -> None:
    store = await PostgresStore.open(pg_url)
    other = await PostgresStore.open(pg_url)
    try:
        session_id, _ = await _seeded(store, ["a", "b"])
        a, b = await store.claim_batch(session_id, 2, now=0)
        result = done(a.id, a.url)
        await store.checkpoint(session_id, [result], Progress(), heartbeat=2, tally=tally)
        # The same batch again (a retried checkpoint whose first COMMIT landed): nothing new.
        await store.checkpoint(session_id, [result], Progress(), heartbeat=3, tally=tally)
        # b's claim lapses and another worker takes it: the stale result counts nothing.
        from tests.postgres.helpers import sql

        sql(pg_url, "UPDATE pages SET lease_until = 0 WHERE id = %s", (b.id,))
        [taken] = await other.claim_batch(session_id, 1, now=0)
        assert taken.id == b.id
        await store.checkpoint(
            session_id, [done(b.id, b.url)], Progress(), heartbeat=4, tally=tally
        )
        await other.checkpoint(
            session_id, [done(b.id, b.url)], Progress(), heartbeat=5, tally=tally
        )
        figures = _by_metric(await store.analytics_rows(session_id))
        assert figures["status", "200"] == 3  # seed, a, b: each once
        assert figures["outcome", "done"] == 3
    finally:
        await other.close()
        await store.close()
