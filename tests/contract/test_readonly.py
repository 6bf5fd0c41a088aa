"""A read-only handle answers every query and writes nothing, not even a byte of metadata."""

from __future__ import annotations

import pytest

from tui_scraper.domain import DatabaseError, PageStatus, Progress, Status
from tui_scraper.domain.records import ControlCommand

from .backends import Harness
from .helpers import SITE, config, done, links, owner


async def _populated(harness: Harness) -> tuple[str, str]:
    """A paused session with a few pages and a pending command, and a running orphan."""
    store = await harness.open()
    try:
        record = await store.create_session(config(), who="t")
        await store.acquire_run(record.id, owner(), who="t", reason="go")
        [seed] = await store.claim_batch(record.id, 1, now=0)
        found = links(seed.id, 1, ["a", "b"])
        await store.checkpoint(record.id, [done(seed.id, seed.url, found)], Progress(), heartbeat=1)
        await store.transition(record.id, Status.PAUSED, reason="p", who="t")
        await store.release_run(record.id)
        await store.post_control(record.id, ControlCommand.RESUME, who="ui:1")
        orphan = await store.create_session(config(), who="t")
        await store.acquire_run(orphan.id, owner(), who="t", reason="go")
    finally:
        await harness.abandon(store)
    return record.id, orphan.id


async def test_every_read_leaves_the_storage_untouched(harness: Harness) -> None:
    session_id, orphan_id = await _populated(harness)
    before = harness.snapshot()
    reader = await harness.open(readonly=True)
    try:
        assert reader.readonly
        statuses = {r.id: r.status for r in await reader.list_sessions()}
        # The orphan's owner is gone: shown as what the next writer will record, unwritten.
        assert statuses == {session_id: Status.PAUSED, orphan_id: Status.INTERRUPTED}
        assert (await reader.get_session(session_id)).status is Status.PAUSED
        assert await reader.resolve_id(session_id[:10]) == session_id
        assert (await reader.events(session_id))[0].kind == "created"
        assert {r.id for r in await reader.find_recoverable()} == {session_id}
        assert (await reader.page_counts(session_id))[PageStatus.QUEUED] == 2
        assert await reader.page_status(session_id, f"{SITE}/a") is PageStatus.QUEUED
        assert await reader.next_due_time(session_id) == 0.0
        assert len([p async for p in reader.iter_pages(session_id, batch=1)]) == 3
        assert len(await reader.pages_after(session_id, search="/b")) == 1
        assert len(await reader.recent_pages(session_id, 10)) == 1
        assert (await reader.seed_page(session_id)) is not None
        [command] = await reader.pending_controls(session_id)
        assert command.command is ControlCommand.RESUME
        assert (await reader.get_control(command.id)).pending
        assert await reader.reap_orphans() == []  # a reader never reaps
        assert harness.snapshot() == before  # nothing created while open either
    finally:
        await reader.close()
    assert harness.snapshot() == before


async def test_a_read_only_handle_refuses_every_write_and_changes_nothing(
    harness: Harness,
) -> None:
    session_id, _orphan = await _populated(harness)
    before = harness.snapshot()
    reader = await harness.open(readonly=True)
    try:
        [command] = await reader.pending_controls(session_id)
        writes = [
            reader.create_session(config(), who="t"),
            reader.transition(session_id, Status.FAILED, reason="r", who="t"),
            reader.add_event(session_id, "error", "x", who="t"),
            reader.dismiss(session_id, who="t"),
            reader.claim_batch(session_id, 5, now=0),
            reader.requeue_fetching(session_id),
            reader.requeue_lost_content(session_id),
            reader.checkpoint(session_id, [], Progress(), heartbeat=9),
            reader.set_summary(session_id, {"x": 1}),
            reader.acquire_run(session_id, owner(), who="t", reason="go"),
            reader.post_control(session_id, ControlCommand.PAUSE, who="t"),
            reader.mark_control_applied(command.id, outcome="resumed"),
        ]
        for write in writes:
            with pytest.raises(DatabaseError):
                await write
    finally:
        await reader.close()
    assert harness.snapshot() == before


async def test_a_read_only_handle_on_empty_storage_is_an_empty_store(harness: Harness) -> None:
    before = harness.snapshot()
    reader = await harness.open(readonly=True)
    try:
        assert await reader.list_sessions() == []
        assert await reader.find_recoverable() == []
    finally:
        await reader.close()
    assert harness.snapshot() == before
