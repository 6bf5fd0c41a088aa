"""Sessions and the state machine, through the public store API of every backend."""

from __future__ import annotations

import itertools

import pytest

from tui_scraper.domain import (
    ALLOWED_TRANSITIONS,
    AmbiguousSessionId,
    InvalidTransition,
    PageStatus,
    SessionNotFound,
    Status,
)
from tui_scraper.domain.errors import NotDismissable

from .backends import ContractStore
from .helpers import config

# A path from pending to each state through allowed transitions only.
PATH_TO: dict[Status, list[Status]] = {
    Status.PENDING: [],
    Status.RUNNING: [Status.RUNNING],
    Status.PAUSED: [Status.RUNNING, Status.PAUSED],
    Status.INTERRUPTED: [Status.RUNNING, Status.INTERRUPTED],
    Status.COMPLETED: [Status.RUNNING, Status.COMPLETED],
    Status.FAILED: [Status.FAILED],
}


async def session_in(store: ContractStore, status: Status) -> str:
    record = await store.create_session(config(), who="contract")
    for step in PATH_TO[status]:
        await store.transition(record.id, step, reason="setup", who="contract")
    return record.id


async def test_create_records_a_pending_session_its_seed_and_one_event(
    backend: ContractStore,
) -> None:
    cfg = config("http://127.0.0.1:9/start", max_pages=7)
    record = await backend.create_session(cfg, who="cli:1")
    assert record.status is Status.PENDING
    assert record.target_url == cfg.target_url and record.config == cfg
    assert len(record.id) == 32 and record.short_id == record.id[:8]
    assert record.start_time is None and record.end_time is None and record.lease_owner is None
    assert await backend.get_session(record.id) == record
    seed = await backend.seed_page(record.id)
    assert seed is not None
    assert (seed.url, seed.depth, seed.status) == (cfg.target_url, 0, PageStatus.QUEUED)
    [event] = await backend.events(record.id)
    assert (event.kind, event.who, event.from_status, event.to_status) == (
        "created",
        "cli:1",
        None,
        None,
    )


async def test_get_and_resolve_unknown_ids_raise_session_not_found(backend: ContractStore) -> None:
    with pytest.raises(SessionNotFound):
        await backend.get_session("f" * 32)
    for ref in ("f" * 32, "ffff", "", "   "):
        with pytest.raises(SessionNotFound):
            await backend.resolve_id(ref)


async def test_resolve_id_by_full_id_and_unique_prefix_and_refuses_ambiguous(
    backend: ContractStore,
) -> None:
    # 17 ids over 16 first hex digits: two of them share a one-character prefix.
    ids = [(await backend.create_session(config(), who="t")).id for _ in range(17)]
    for session_id in ids:
        assert await backend.resolve_id(session_id) == session_id
        assert await backend.resolve_id(session_id.upper()) == session_id
        assert await backend.resolve_id(f"  {session_id[:12]} ") == session_id
    shared = next(a[0] for a, b in itertools.combinations(ids, 2) if a[0] == b[0])
    with pytest.raises(AmbiguousSessionId) as caught:
        await backend.resolve_id(shared)
    assert len(caught.value.matches) >= 2
    assert all(match.startswith(shared) for match in caught.value.matches)


async def test_list_is_newest_first(backend: ContractStore) -> None:
    assert await backend.list_sessions() == []
    ids = [(await backend.create_session(config(), who="t")).id for _ in range(4)]
    listed = await backend.list_sessions()
    assert [r.id for r in listed] == list(reversed(ids))
    assert [r.created_at for r in listed] == sorted((r.created_at for r in listed), reverse=True)


async def test_every_transition_is_allowed_or_refused_as_the_domain_says(
    backend: ContractStore,
) -> None:
    for current, wanted in itertools.product(list(Status), list(Status)):
        session_id = await session_in(backend, current)
        before = await backend.events(session_id)
        if wanted in ALLOWED_TRANSITIONS[current]:
            record = await backend.transition(session_id, wanted, reason="because", who="tester")
            assert record.status is wanted
            after = await backend.events(session_id)
            assert len(after) == len(before) + 1
            last = after[-1]
            assert (last.kind, last.from_status, last.to_status) == ("transition", current, wanted)
            assert (last.reason, last.who) == ("because", "tester")
        else:
            with pytest.raises(InvalidTransition) as caught:
                await backend.transition(session_id, wanted, reason="because", who="tester")
            error = caught.value
            assert (error.session_id, error.current, error.wanted) == (session_id, current, wanted)
            assert "\n" not in str(error)
            assert (await backend.get_session(session_id)).status is current
            assert await backend.events(session_id) == before


async def test_expected_status_is_a_compare_and_set(backend: ContractStore) -> None:
    session_id = await session_in(backend, Status.RUNNING)
    with pytest.raises(InvalidTransition):
        await backend.transition(
            session_id, Status.PAUSED, reason="r", who="t", expected=Status.PENDING
        )
    assert (await backend.get_session(session_id)).status is Status.RUNNING
    record = await backend.transition(
        session_id, Status.PAUSED, reason="r", who="t", expected=Status.RUNNING
    )
    assert record.status is Status.PAUSED


async def test_transitions_stamp_times_and_error(backend: ContractStore) -> None:
    session_id = await session_in(backend, Status.PENDING)
    running = await backend.transition(session_id, Status.RUNNING, reason="go", who="t")
    assert running.start_time is not None and running.end_time is None
    paused = await backend.transition(session_id, Status.PAUSED, reason="p", who="t")
    resumed = await backend.transition(session_id, Status.RUNNING, reason="go", who="t")
    assert paused.start_time == resumed.start_time == running.start_time  # the first start kept
    failed = await backend.transition(
        session_id, Status.FAILED, reason="boom", who="t", error="the site is gone"
    )
    assert failed.end_time is not None and failed.error == "the site is gone"
    assert failed.last_updated >= running.last_updated


async def test_transition_of_a_missing_session_raises_session_not_found(
    backend: ContractStore,
) -> None:
    with pytest.raises(SessionNotFound):
        await backend.transition("a" * 32, Status.RUNNING, reason="r", who="t")


async def test_recoverable_dismiss_and_summary(backend: ContractStore) -> None:
    paused = await session_in(backend, Status.PAUSED)
    interrupted = await session_in(backend, Status.INTERRUPTED)
    completed = await session_in(backend, Status.COMPLETED)
    assert {r.id for r in await backend.find_recoverable()} == {paused, interrupted}
    dismissed = await backend.dismiss(paused, who="ui:1")
    assert dismissed.dismissed_at is not None
    assert [r.id for r in await backend.find_recoverable()] == [interrupted]
    assert (await backend.events(paused))[-1].kind == "dismissed"
    with pytest.raises(NotDismissable) as caught:  # only paused or interrupted ones
        await backend.dismiss(completed, who="ui:1")
    assert "completed" in str(caught.value)
    # Running again makes a dismissed session recoverable the next time it stops.
    await backend.transition(paused, Status.RUNNING, reason="go", who="t")
    await backend.transition(paused, Status.PAUSED, reason="p", who="t")
    assert {r.id for r in await backend.find_recoverable()} == {paused, interrupted}
    await backend.set_summary(completed, {"pages": 3, "title": "ünïcode"})
    assert (await backend.get_session(completed)).summary == {"pages": 3, "title": "ünïcode"}
    with pytest.raises(SessionNotFound):
        await backend.set_summary("b" * 32, {})
