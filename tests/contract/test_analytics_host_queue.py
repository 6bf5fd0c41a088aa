"""The per-host queue (`queued_by_host`): pages queued or being fetched, per "host[:port]" as
the analytics count hosts, the hosts with most first, on every backend."""

from __future__ import annotations

from tui_scraper.domain import DiscoveredLink, Progress

from .backends import ContractStore, Harness
from .helpers import SITE, done, running_session

OTHER = "http://localhost:8081"


async def test_waiting_pages_are_counted_per_host_with_port(
    backend: ContractStore, harness: Harness
) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    found = (
        [DiscoveredLink(f"{SITE}/a{i}", 1, seed.id) for i in range(3)]
        + [DiscoveredLink(f"{OTHER}/b{i}?q=1", 1, seed.id) for i in range(5)]
        + [DiscoveredLink("http://localhost/c", 1, seed.id)]
    )
    await backend.checkpoint(session_id, [done(seed.id, seed.url, found)], Progress(), heartbeat=1)
    # One of 127.0.0.1:9's pages is being fetched: still waiting for its result.
    claimed = await backend.claim_batch(session_id, 1, now=0)
    assert len(claimed) == 1
    other = await running_session(backend)  # another session's pages are not counted

    queued = await backend.queued_by_host(session_id, 50)
    assert queued == {"localhost:8081": 5, "127.0.0.1:9": 3, "localhost": 1}
    assert list(queued) == ["localhost:8081", "127.0.0.1:9", "localhost"]  # most first
    assert await backend.queued_by_host(session_id, 2) == {"localhost:8081": 5, "127.0.0.1:9": 3}
    assert await backend.queued_by_host(other, 50) == {"127.0.0.1:9": 1}  # its seed
    reader = await harness.open(readonly=True)  # `stats` reads through a read-only store
    try:
        assert await reader.queued_by_host(session_id, 50) == queued
    finally:
        await reader.close()


async def test_a_settled_session_has_nothing_waiting(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(session_id, [done(seed.id, seed.url)], Progress(), heartbeat=1)
    assert await backend.queued_by_host(session_id, 50) == {}
    assert await backend.queued_by_host("no-such-session", 50) == {}
