"""Live tuning's record: the tuned config replaces the stored one and its `tuned` event joins
the timeline, together; another handle (a resume in another process) reads both."""

from __future__ import annotations

import pytest

from tui_scraper.domain import ConfigError, SessionNotFound
from tui_scraper.domain.tuning import Tuning

from .backends import ContractStore, Harness
from .helpers import config, owner


async def test_a_tuned_config_and_its_event_are_kept_for_the_next_reader(
    backend: ContractStore, harness: Harness
) -> None:
    record = await backend.create_session(config(exclude=(r"\.pdf$",)), who="cli:1")
    other = await backend.create_session(config(), who="cli:1")
    await backend.acquire_run(record.id, owner(), who="worker:2", reason="started")
    tuned = Tuning(rate=5.0, concurrency=4, exclude=(r"\.pdf$", "/tag/")).applied_to(record.config)
    reason = "tuned by channel: rate 5/s per host, concurrency 4, exclude 2 patterns"
    stored = await backend.record_tuning(record.id, tuned, reason=reason, who="channel")
    assert stored.config == tuned

    again = await harness.open(readonly=True)
    try:
        seen = await again.get_session(record.id)
        assert seen.config.rate_per_host == 5.0 and seen.config.concurrency == 4
        assert seen.config.exclude == (r"\.pdf$", "/tag/")
        assert seen.config.target_url == record.config.target_url  # the rest is unchanged
        last = (await again.events(record.id))[-1]
        assert (last.kind, last.reason, last.who) == ("tuned", reason, "channel")
        assert (last.from_status, last.to_status) == (None, None)
        assert (await again.get_session(other.id)).config == other.config
        assert [e.kind for e in await again.events(other.id)] == ["created"]
    finally:
        await again.close()


async def test_a_bad_config_or_a_missing_session_records_nothing(backend: ContractStore) -> None:
    record = await backend.create_session(config(), who="cli:1")
    before = await backend.events(record.id)
    with pytest.raises(ConfigError):
        await backend.record_tuning(
            record.id, record.config.with_changes(concurrency=0), reason="x", who="t"
        )
    with pytest.raises(SessionNotFound):
        await backend.record_tuning("d" * 32, record.config, reason="x", who="t")
    assert await backend.events(record.id) == before
    assert (await backend.get_session(record.id)).config == record.config
