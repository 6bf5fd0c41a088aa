"""HostGate (per-host concurrency and spacing) and HostHealth (outage state machine)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time

import pytest

from tui_scraper.backoff import backoff_delay
from tui_scraper.engine.fetch import is_transient_status, parse_retry_after
from tui_scraper.engine.politeness import HostGate, HostHealth


async def test_host_gate_limits_concurrency_per_host() -> None:
    gate = HostGate(per_host=2, rate_per_host=None)
    active: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}

    async def work(host: str) -> None:
        async with gate.slot(host):
            active[host] += 1
            peak[host] = max(peak[host], active[host])
            await asyncio.sleep(0.01)
            active[host] -= 1

    await asyncio.gather(*(work(h) for h in "ab" * 20))
    assert peak == {"a": 2, "b": 2}  # per host, not global
    assert gate.in_flight("a") == 0


async def test_host_gate_rate_and_crawl_delay_spacing() -> None:
    gate = HostGate(per_host=4, rate_per_host=20.0)  # ≥ 50 ms apart
    starts: list[float] = []

    async def work() -> None:
        async with gate.slot("h"):
            starts.append(time.monotonic())

    await asyncio.gather(*(work() for _ in range(6)))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.045, gaps

    gate.set_delay("h", 0.1)  # Crawl-delay beats a faster rate
    starts.clear()
    await asyncio.gather(*(work() for _ in range(3)))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.095, gaps


def test_host_gate_validates() -> None:
    with pytest.raises(ValueError):
        HostGate(per_host=0, rate_per_host=None)
    with pytest.raises(ValueError):
        HostGate(per_host=1, rate_per_host=0)


def test_host_health_state_machine() -> None:
    h = HostHealth(threshold=5, base=1.0, cap=60.0, rng=random.Random(1))
    t = 100.0
    for _ in range(4):
        assert h.record_failure("x", t) is False
    assert not h.is_down("x", t) and h.describe("x", t) == "up"
    h.record_success("x")  # a success resets the run
    for _ in range(4):
        h.record_failure("x", t)
    assert not h.is_down("x", t)
    assert h.record_failure("x", t) is True  # the 5th consecutive failure
    assert h.down_hosts() == ["x"]
    probe = h.next_probe_at("x")
    assert probe is not None and t <= probe <= t + 1.0
    assert h.is_down("x", t) or probe == t
    assert h.describe("x", t).startswith("host down, next try in")
    # Late failures of requests sent before the outage change nothing.
    assert h.record_failure("x", t + 0.1) is False and h.next_probe_at("x") == probe
    # Exactly one probe when due.
    assert h.may_dispatch("x", probe) is True
    assert h.may_dispatch("x", probe) is False and h.is_down("x", probe)
    assert h.describe("x", probe) == "host down, probing"
    # Failed probes back off exponentially (full jitter, capped at 60 s).
    ceilings = []
    now = probe
    for i in range(1, 12):
        h.record_failure("x", now)
        nxt = h.next_probe_at("x")
        assert nxt is not None
        ceilings.append(min(60.0, 2.0**i))
        assert now <= nxt <= now + ceilings[-1]
        now = nxt
        assert h.may_dispatch("x", now)
    # Recovery.
    assert h.record_success("x") is True
    assert not h.is_down("x", now) and h.may_dispatch("x", now) and h.down_hosts() == []
    assert h.record_success("x") is False
    # Other hosts are unaffected throughout.
    assert h.may_dispatch("y", now)


def test_host_health_abandoned_probe() -> None:
    h = HostHealth(threshold=1, rng=random.Random(2))
    h.record_failure("x", 0.0)
    due = h.next_probe_at("x")
    assert due is not None
    assert h.may_dispatch("x", due)
    h.probe_abandoned("x")
    assert h.may_dispatch("x", due)


def test_host_health_lost_probe_expires() -> None:
    h = HostHealth(threshold=1, rng=random.Random(5), probe_timeout=120.0)
    h.record_failure("x", 0.0)
    due = h.next_probe_at("x")
    assert due is not None and h.may_dispatch("x", due)
    assert not h.may_dispatch("x", due + 119.0)  # its outcome was never recorded …
    assert h.may_dispatch("x", due + 121.0)  # … so another probe may go after the timeout


def test_describe_rounds_seconds() -> None:
    h = HostHealth(threshold=1, base=8.0, cap=8.0, rng=random.Random(3))
    h.record_failure("x", 0.0)
    due = h.next_probe_at("x")
    assert due is not None
    assert h.describe("x", 0.0) == f"host down, next try in {due:.0f} s"


# ------------------------------------------------------------------- retry helpers -------


def test_transient_statuses() -> None:
    assert is_transient_status(429) and is_transient_status(500) and is_transient_status(503)
    assert not any(is_transient_status(c) for c in (200, 301, 400, 403, 404, 410, 451))


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("999999", now) == 3600.0  # capped
    assert parse_retry_after("Tue, 14 Nov 2023 22:14:20 GMT", now) == pytest.approx(60.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now) == 3600.0
    for bad in (None, "", "-5", "1.5", "soon", "Tue, 99 Nov 2023 25:00:00 GMT", "\x1b[2J"):
        assert parse_retry_after(bad, now) is None, bad


def test_backoff_full_jitter_bounds() -> None:
    rng = random.Random(4)
    for attempt in range(12):
        ceiling = min(300.0, 2.0**attempt)
        samples = [backoff_delay(attempt, rng=rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # full jitter uses the whole range
        assert min(samples) < ceiling * 0.2
    assert backoff_delay(10_000, base=1.0, cap=5.0, rng=rng) <= 5.0
    assert 0.0 <= backoff_delay(-3) <= 1.0
