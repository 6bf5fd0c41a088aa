"""The shared host gate's reservations on a real PostgreSQL (backends/postgres/hosts.py), store
against store as two workers' processes would be: starts handed out by two connections racing
are never closer than the gap, the per-host limit holds over both, a tuned rate reaches the
other store's next reservation, a reservation or release tried twice counts once, and the slots
of a worker that died are given back."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tui_scraper.backends.postgres import Store
from tui_scraper.backends.postgres import hosts as pg_hosts
from tui_scraper.domain import CrawlConfig
from tui_scraper.domain.records import HostStart
from tui_scraper.ports import HostPacing

from .helpers import config, owner, sql

HOST = "127.0.0.1:9"


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[Store, Store, str]]:
    """Two stores (two pools, as two worker processes have) running one session: the owner and
    a worker that joined it."""
    first, second = await Store.open(pg_url), await Store.open(pg_url)
    try:
        session_id = (await first.create_session(config(), who="test")).id
        await first.acquire_run(session_id, owner("first"), who="test", reason="test")
        await second.join_run(session_id, owner("second"), who="test")
        yield first, second, session_id
    finally:
        await first.close()
        await second.close()


def _set_rate(pg_url: str, session_id: str, rate: float | None) -> None:
    [(text,)] = sql(pg_url, "SELECT config::text FROM sessions WHERE id = %s", (session_id,))
    cfg = CrawlConfig.from_json(text)
    sql(
        pg_url,
        "UPDATE sessions SET config = %s::jsonb WHERE id = %s",
        (replace(cfg, rate_per_host=rate).to_json(), session_id),
    )


def _starts(pg_url: str, session_id: str) -> list[float]:
    rows = sql(
        pg_url,
        "SELECT start_at FROM host_slots WHERE session_id = %s ORDER BY start_at",
        (session_id,),
    )
    return [float(r[0]) for r in rows]


def _in_flight(pg_url: str, session_id: str) -> tuple[int, int]:
    """(the hosts row's counter, the slot rows): the counter must be their count."""
    counter = sql(
        pg_url,
        "SELECT in_flight FROM hosts WHERE session_id = %s AND host = %s",
        (session_id, HOST),
    )
    [(rows,)] = sql(pg_url, "SELECT count(*) FROM host_slots WHERE session_id = %s", (session_id,))
    return (int(counter[0][0]) if counter else 0), int(rows)


async def _hammer(store: HostPacing, session_id: str, n: int, per_host: int) -> list[HostStart]:
    got: list[HostStart] = []
    for _ in range(n):
        start = await store.reserve_host(session_id, HOST, per_host=per_host)
        if start is not None:
            got.append(start)
    return got


async def test_racing_reservations_are_never_closer_than_the_gap(
    pg_url: str, pair: tuple[Store, Store, str]
) -> None:
    first, second, session_id = pair
    rate = 50.0  # a gap of 20 ms
    _set_rate(pg_url, session_id, rate)
    tasks = [
        _hammer(store, session_id, 15, per_host=1000)
        for store in (first, second)
        for _ in range(6)  # six requests at once from each worker, as its lanes would
    ]
    granted = [s for batch in await asyncio.gather(*tasks) for s in batch]
    assert len(granted) == 2 * 6 * 15
    starts = _starts(pg_url, session_id)
    assert len(starts) == len(granted)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / rate - 1e-6, min(gaps)
    # Handed out back to back: each next start is the previous one plus the gap.
    assert max(gaps) < 1 / rate + 0.5
    assert _in_flight(pg_url, session_id) == (len(granted), len(granted))
    for start in granted:
        await first.release_host(session_id, start)
    assert _in_flight(pg_url, session_id) == (0, 0)


async def test_the_per_host_limit_holds_over_every_worker(
    pg_url: str, pair: tuple[Store, Store, str]
) -> None:
    first, second, session_id = pair
    tasks = [
        _hammer(store, session_id, 20, per_host=3) for store in (first, second) for _ in (1, 2)
    ]
    granted = [s for batch in await asyncio.gather(*tasks) for s in batch]
    assert len(granted) == 3
    assert all(s.wait_s < 0.05 for s in granted)  # no rate: no spacing
    assert await second.reserve_host(session_id, HOST, per_host=3) is None
    await first.release_host(session_id, granted[0])
    # One slot free again: exactly one of the two gets it.
    again = [await store.reserve_host(session_id, HOST, per_host=3) for store in (first, second)]
    assert len([s for s in again if s is not None]) == 1
    assert await first.reserve_host(session_id, HOST, per_host=3) is None
    assert await second.reserve_host(session_id, HOST, per_host=3) is None
    assert _in_flight(pg_url, session_id) == (3, 3)


async def test_a_refused_worker_gets_the_next_slot_freed(
    pg_url: str, pair: tuple[Store, Store, str]
) -> None:
    """One worker holding a busy host cannot keep it to itself: the one it refused is first in
    line, and while it waits the holder is told not to keep its starts."""
    first, second, session_id = pair
    held = [await first.reserve_host(session_id, HOST, per_host=2) for _ in (1, 2)]
    assert all(s is not None and s.may_keep for s in held)
    assert await second.reserve_host(session_id, HOST, per_host=2) is None  # in line now
    assert held[0] is not None
    await first.release_host(session_id, held[0])
    assert await first.reserve_host(session_id, HOST, per_host=2) is None  # second's turn
    mine = await second.reserve_host(session_id, HOST, per_host=2)
    assert mine is not None
    assert held[1] is not None
    await first.release_host(session_id, held[1])
    assert await first.reserve_host(session_id, HOST, per_host=2) is not None
    # With a rate, no start may be kept: each one moves the host's next allowed time on.
    _set_rate(pg_url, session_id, 100.0)
    await second.release_host(session_id, mine)
    paced = await second.reserve_host(session_id, HOST, per_host=2)
    assert paced is not None and not paced.may_keep


async def test_a_tuned_rate_reaches_the_other_workers_next_reservation(
    pg_url: str, pair: tuple[Store, Store, str]
) -> None:
    first, second, session_id = pair
    _set_rate(pg_url, session_id, 1.0)
    for store in (first, second, second):
        assert await store.reserve_host(session_id, HOST, per_host=10) is not None
    # The owner tunes (record_tuning stores the config): the joined store's next start follows.
    cfg = (await first.get_session(session_id)).config
    await first.record_tuning(
        session_id, replace(cfg, rate_per_host=100.0), reason="test", who="test"
    )
    assert await second.reserve_host(session_id, HOST, per_host=10) is not None
    # A Crawl-delay longer than the rate's gap wins.
    for _ in (1, 2):
        assert await first.reserve_host(session_id, HOST, per_host=10, crawl_delay=2.0)
    starts = _starts(pg_url, session_id)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(starts)]
    # Each start is the one before plus the gap in force when that one was reserved: the first
    # start after the tuning was due a second after the last at the old rate, the next one
    # 10 ms after it, the one after the Crawl-delay's 2 s.
    assert gaps == [1.0, 1.0, 1.0, 0.01, 2.0]


async def test_a_reservation_or_release_tried_again_counts_once(
    pg_url: str, pair: tuple[Store, Store, str]
) -> None:
    """What a retry after a lost connection does: the same slot id sent twice."""
    first, _second, session_id = pair

    async def reserve(slot: str) -> float | None:
        return await first._write_again(
            pg_hosts.reserve, session_id, HOST, first._claimer, slot, 2, 0.0
        )

    assert await reserve("s1") is not None
    assert await reserve("s1") is not None  # granted already: said again, not counted again
    assert _in_flight(pg_url, session_id) == (1, 1)
    await first.release_host(session_id, HostStart("s1", HOST, 0.0))
    await first.release_host(session_id, HostStart("s1", HOST, 0.0))
    assert _in_flight(pg_url, session_id) == (0, 0)


async def test_the_slots_of_a_worker_that_died_are_given_back(
    pg_url: str, pair: tuple[Store, Store, str]
) -> None:
    first, second, session_id = pair
    held = await _hammer(second, session_id, 3, per_host=3)
    assert len(held) == 3
    # What SIGKILL does to the worker's lock connection: the server drops its lease lock.
    await second._keeper.abandon()
    start = await first.reserve_host(session_id, HOST, per_host=3)
    assert start is not None
    assert _in_flight(pg_url, session_id) == (1, 1)
    [(holder,)] = sql(pg_url, "SELECT worker_id FROM host_slots")
    assert holder == first._claimer


async def test_a_worker_leaving_gives_its_slots_back(
    pg_url: str, pair: tuple[Store, Store, str]
) -> None:
    _first, second, session_id = pair
    assert len(await _hammer(second, session_id, 2, per_host=3)) == 2
    await second.release_run(session_id)
    assert _in_flight(pg_url, session_id) == (0, 0)
