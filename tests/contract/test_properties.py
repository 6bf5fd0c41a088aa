"""Random sequences of claims, batch commits and requeues keep the frontier consistent."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress

from .backends import BACKENDS, ContractStore
from .helpers import SITE, config

NAMES = [f"p{i}" for i in range(12)]
RETRY_AT = 10.0
OUTCOMES = ["done", "failed", "skipped", "retry"]

# A claim may first move the clock past RETRY_AT; the clock never goes back.
claim_op = st.tuples(st.just("claim"), st.integers(0, 6), st.booleans())
commit_op = st.tuples(
    st.just("commit"),
    st.lists(
        st.tuples(st.sampled_from(OUTCOMES), st.lists(st.sampled_from(NAMES), max_size=5)),
        max_size=4,
    ),
)
requeue_op = st.tuples(st.just("requeue"))
operations = st.lists(st.one_of(claim_op, commit_op, requeue_op), max_size=20)


@dataclass
class Model:
    max_pages: int | None
    status: dict[str, PageStatus] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)
    retry: set[str] = field(default_factory=set)  # rows whose retry time is RETRY_AT
    now: float = 0.0
    claimed: list[tuple[int, str, int]] = field(default_factory=list)  # (id, url, attempts)

    def due(self, now: float) -> set[str]:
        return {
            url
            for url, status in self.status.items()
            if status is PageStatus.QUEUED and (url not in self.retry or now >= RETRY_AT)
        }

    def counts(self) -> dict[PageStatus, int]:
        counts = dict.fromkeys(PageStatus, 0)
        for status in self.status.values():
            counts[status] += 1
        return counts


async def scenario(store: ContractStore, model: Model, ops: list[tuple[object, ...]]) -> None:
    record = await store.create_session(config(f"{SITE}/{NAMES[0]}"), who="hyp")
    sid = record.id
    model.status[record.target_url] = PageStatus.QUEUED
    model.depth[record.target_url] = 0
    for op in ops:
        if op[0] == "claim":
            _kind, limit, advance = op
            assert isinstance(limit, int)
            if advance:
                model.now = 2 * RETRY_AT
            due = model.due(model.now)
            got = await store.claim_batch(sid, limit, model.now)
            urls = [page.url for page in got]
            assert len(urls) == len(set(urls)) == min(limit, len(due))
            assert set(urls) <= due
            if urls and due - set(urls):  # shallowest first
                assert max(model.depth[u] for u in urls) <= min(
                    model.depth[u] for u in due - set(urls)
                )
            for page in got:
                model.status[page.url] = PageStatus.FETCHING  # its retry time stays (past)
                model.claimed.append((page.id, page.url, page.attempts))
        elif op[0] == "commit":
            outcomes = op[1]
            assert isinstance(outcomes, list)
            settled, model.claimed = model.claimed[: len(outcomes)], model.claimed[len(outcomes) :]
            results: list[PageResult] = []
            expected_new = 0
            for (page_id, url, attempts), (outcome, names) in zip(settled, outcomes, strict=False):
                depth = model.depth[url] + 1
                found = [DiscoveredLink(f"{SITE}/{n}", depth, page_id) for n in names]
                status = PageStatus.QUEUED if outcome == "retry" else PageStatus(outcome)
                results.append(
                    PageResult(
                        page_id,
                        url,
                        status,
                        attempts + 1,
                        next_attempt_at=RETRY_AT if outcome == "retry" else None,
                        links=found,
                    )
                )
                model.status[url] = status
                if outcome == "retry":
                    model.retry.add(url)
                else:
                    model.retry.discard(url)
            for result in results:
                for link in result.links:
                    room = model.max_pages is None or len(model.status) < model.max_pages
                    if link.url not in model.status and room:
                        model.status[link.url] = PageStatus.QUEUED
                        model.depth[link.url] = link.depth
                        expected_new += 1
            added = await store.checkpoint(
                sid, results, Progress(), heartbeat=1.0, max_pages=model.max_pages
            )
            assert added == expected_new
        else:
            requeued = await store.requeue_fetching(sid)
            assert requeued == len(model.claimed)
            for _id, url, _attempts in model.claimed:
                model.status[url] = PageStatus.QUEUED
            model.claimed.clear()
        assert await store.page_counts(sid) == model.counts()
        for url, status in model.status.items():
            assert await store.page_status(sid, url) is status
        stored = {page.url async for page in store.iter_pages(sid, batch=5)}
        assert stored == set(model.status)
        assert model.max_pages is None or len(stored) <= model.max_pages


@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, max_pages=st.one_of(st.none(), st.integers(1, 8)))
def test_random_frontier_operations_keep_counts_consistent(
    backend_name: str, ops: list[tuple[object, ...]], max_pages: int | None
) -> None:
    async def run(tmp: Path) -> None:
        harness = BACKENDS[backend_name](tmp)
        try:
            store = await harness.open()
            try:
                await scenario(store, Model(max_pages), ops)
            finally:
                await store.close()
        finally:
            harness.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp)))
