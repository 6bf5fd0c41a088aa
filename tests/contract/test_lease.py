"""The lease: one live owner per running session; a dead one is reaped at once, a live one never."""

from __future__ import annotations

import pytest

from tui_scraper.domain import InvalidTransition, PageStatus, SessionBusy, Status

from .backends import ContractStore, Harness
from .helpers import config, owner, running_session


async def test_acquire_runs_the_session_and_records_its_owner(backend: ContractStore) -> None:
    record = await backend.create_session(config(), who="t")
    me = owner("run-1")
    running = await backend.acquire_run(record.id, me, who="cli:1", reason="start")
    assert running.status is Status.RUNNING and running.lease_owner == me.text()
    assert running.heartbeat_at is not None
    assert backend.holds_lease(record.id)
    with pytest.raises(SessionBusy):  # the same handle twice is a second owner too
        await backend.acquire_run(record.id, owner("run-2"), who="cli:1", reason="again")
    paused = await backend.transition(record.id, Status.PAUSED, reason="p", who="t")
    assert paused.lease_owner is None
    await backend.release_run(record.id)
    assert not backend.holds_lease(record.id)
    again = await backend.acquire_run(record.id, owner("run-3"), who="cli:1", reason="resume")
    assert again.status is Status.RUNNING


async def test_a_second_owner_is_refused_and_a_live_one_never_reaped(
    backend: ContractStore, harness: Harness
) -> None:
    record = await backend.create_session(config(), who="t")
    await backend.acquire_run(record.id, owner("first"), who="cli:1", reason="start")
    second = await harness.open()
    try:
        with pytest.raises(SessionBusy) as caught:
            await second.acquire_run(record.id, owner("second"), who="cli:2", reason="start")
        assert record.id in str(caught.value)
        assert await second.reap_orphans(who="reaper") == []
        assert (await second.get_session(record.id)).status is Status.RUNNING
        assert [e.kind for e in await second.events(record.id)] == ["created", "transition"]
    finally:
        await second.close()
    assert backend.holds_lease(record.id)


async def test_a_provably_dead_owner_is_reaped_at_once(harness: Harness) -> None:
    dying = await harness.open()
    record = await dying.create_session(config(), who="t")
    await dying.acquire_run(record.id, owner("dies"), who="cli:1", reason="start")
    claimed = await dying.claim_batch(record.id, 10, now=0)
    await harness.abandon(dying)  # SIGKILL: still `running`, a page still `fetching`
    survivor = await harness.open()
    try:
        assert await survivor.page_status(record.id, claimed[0].url) is PageStatus.FETCHING
        assert await survivor.reap_orphans(who="reaper") == [record.id]
        reaped = await survivor.get_session(record.id)
        assert reaped.status is Status.INTERRUPTED and reaped.lease_owner is None
        last = (await survivor.events(record.id))[-1]
        assert (last.from_status, last.to_status, last.who) == (
            Status.RUNNING,
            Status.INTERRUPTED,
            "reaper",
        )
        assert "gone" in last.reason
        # Its claims went back to the queue in the same step (resume refetches them).
        assert await survivor.page_status(record.id, claimed[0].url) is PageStatus.QUEUED
        assert await survivor.reap_orphans(who="reaper") == []  # once
        resumed = await survivor.acquire_run(record.id, owner("next"), who="cli:2", reason="go")
        assert resumed.status is Status.RUNNING
    finally:
        await survivor.close()


async def test_acquire_settles_an_orphan_nobody_reaped(harness: Harness) -> None:
    dying = await harness.open()
    session_id = await running_session(dying)  # running, and nobody ever held its lease
    await harness.abandon(dying)
    store = await harness.open()
    try:
        record = await store.acquire_run(session_id, owner(), who="cli:2", reason="resume")
        assert record.status is Status.RUNNING
        steps = [(e.from_status, e.to_status) for e in await store.events(session_id)][1:]
        assert steps == [
            (Status.PENDING, Status.RUNNING),
            (Status.RUNNING, Status.INTERRUPTED),
            (Status.INTERRUPTED, Status.RUNNING),
        ]
    finally:
        await store.close()


async def test_a_final_session_cannot_be_acquired_and_keeps_no_lease(
    backend: ContractStore,
) -> None:
    session_id = await running_session(backend)
    await backend.transition(session_id, Status.COMPLETED, reason="done", who="t")
    with pytest.raises(InvalidTransition):
        await backend.acquire_run(session_id, owner(), who="t", reason="again")
    assert not backend.holds_lease(session_id)


async def test_lease_holder_names_the_live_owner_and_nobody_once_it_is_gone(
    harness: Harness,
) -> None:
    first = await harness.open()
    record = await first.create_session(config(), who="t")
    assert await first.lease_holder(record.id) is None  # never run
    me = owner("run-held")
    await first.acquire_run(record.id, me, who="cli:1", reason="start")
    other = await harness.open()
    try:
        for store in (first, other):  # the owner itself and any other handle see the same
            holder = await store.lease_holder(record.id)
            assert holder is not None
            assert (holder["pid"], holder["host"], holder["run_id"]) == (me.pid, me.host, me.run_id)
            assert holder["started"] == holder["start"] is not None
        await first.release_run(record.id)  # let go without a transition: still `running`
        assert await other.lease_holder(record.id) is None
        await first.acquire_run(record.id, owner("run-again"), who="cli:1", reason="again")
        assert (await other.lease_holder(record.id) or {}).get("run_id") == "run-again"
        await harness.abandon(first)  # killed: its lease dies with it
        assert await other.lease_holder(record.id) is None
    finally:
        await other.close()
