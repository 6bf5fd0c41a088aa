"""The state machine: every allowed and every forbidden transition, and what each one records."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from tui_scraper.backends.sqlite import NotDismissable, Store
from tui_scraper.domain import (
    ALLOWED_TRANSITIONS,
    AmbiguousSessionId,
    InvalidTransition,
    SessionNotFound,
    Status,
)

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


async def session_in(store: Store, status: Status) -> str:
    record = await store.create_session(config(), who="test")
    for step in PATH_TO[status]:
        await store.transition(record.id, step, reason="setup", who="test")
    return record.id


@pytest.mark.parametrize(("current", "wanted"), list(itertools.product(list(Status), list(Status))))
async def test_transition_matrix(store: Store, current: Status, wanted: Status) -> None:
    session_id = await session_in(store, current)
    before = await store.events(session_id)
    if wanted in ALLOWED_TRANSITIONS[current]:
        record = await store.transition(session_id, wanted, reason="because", who="tester")
        assert record.status == wanted
        after = await store.events(session_id)
        assert len(after) == len(before) + 1
        last = after[-1]
        assert (last.from_status, last.to_status) == (current, wanted)
        assert (last.reason, last.who, last.kind) == ("because", "tester", "transition")
    else:
        with pytest.raises(InvalidTransition) as caught:
            await store.transition(session_id, wanted, reason="because", who="tester")
        error = caught.value
        assert (error.session_id, error.current, error.wanted) == (session_id, current, wanted)
        assert session_id in str(error) and current.value in str(error)
        assert wanted.value in str(error) and "\n" not in str(error)
        assert (await store.get_session(session_id)).status == current
        assert len(await store.events(session_id)) == len(before)


async def test_expected_status_is_a_compare_and_set(store: Store) -> None:
    session_id = await session_in(store, Status.PAUSED)
    with pytest.raises(InvalidTransition) as caught:
        await store.transition(
            session_id, Status.RUNNING, reason="r", who="t", expected=Status.INTERRUPTED
        )
    assert caught.value.current == Status.PAUSED
    record = await store.transition(
        session_id, Status.RUNNING, reason="r", who="t", expected=Status.PAUSED
    )
    assert record.status == Status.RUNNING


async def test_times_lease_and_error_columns(store: Store) -> None:
    created = await store.create_session(config(), who="t")
    assert created.start_time is None and created.end_time is None
    running = await store.transition(created.id, Status.RUNNING, reason="go", who="t")
    assert running.start_time is not None and running.heartbeat_at is not None
    paused = await store.transition(created.id, Status.PAUSED, reason="p", who="t")
    assert paused.lease_owner is None and paused.end_time is None
    again = await store.transition(created.id, Status.RUNNING, reason="go", who="t")
    assert again.start_time == running.start_time  # first start only
    failed = await store.transition(created.id, Status.FAILED, reason="x", who="t", error="boom")
    assert failed.end_time is not None and failed.error == "boom"
    assert failed.last_updated >= created.last_updated


async def test_trigger_keeps_last_updated(store: Store, data_dir) -> None:  # type: ignore[no-untyped-def]
    created = await store.create_session(config(), who="t")
    db = sqlite3.connect(data_dir / "scraper.db")
    try:
        db.execute(
            "UPDATE sessions SET last_updated = 1.0, error = 'x' WHERE id = ?", (created.id,)
        )
        db.commit()
        value = db.execute("SELECT last_updated FROM sessions").fetchone()[0]
    finally:
        db.close()
    assert value > created.created_at - 1


async def test_check_constraint_refuses_impossible_status(store: Store, data_dir) -> None:  # type: ignore[no-untyped-def]
    created = await store.create_session(config(), who="t")
    db = sqlite3.connect(data_dir / "scraper.db")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("UPDATE sessions SET status = 'exploded' WHERE id = ?", (created.id,))
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("UPDATE pages SET status = 'lost'")
    finally:
        db.close()


async def test_created_session_has_seed_and_event(store: Store) -> None:
    record = await store.create_session(config("http://127.0.0.1:9/start"), who="cli:1")
    assert record.status == Status.PENDING and len(record.id) == 32
    pages = [p async for p in store.iter_pages(record.id)]
    assert [(p.url, p.depth, p.status.value) for p in pages] == [
        ("http://127.0.0.1:9/start", 0, "queued")
    ]
    events = await store.events(record.id)
    assert [(e.kind, e.who) for e in events] == [("created", "cli:1")]
    assert (await store.get_session(record.id)).config == record.config


async def test_resolve_id_prefix_and_errors(store: Store) -> None:
    ids = [(await store.create_session(config(), who="t")).id for _ in range(20)]
    for full in ids:
        assert await store.resolve_id(full) == full
        assert await store.resolve_id(full[:12].upper()) == full
    with pytest.raises(SessionNotFound):
        await store.resolve_id("zzzz")
    with pytest.raises(SessionNotFound):
        await store.resolve_id("")
    firsts = [i[0] for i in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(AmbiguousSessionId):
        await store.resolve_id(shared)
    with pytest.raises(SessionNotFound):
        await store.get_session("0" * 32)


async def test_list_newest_first_and_recoverable(store: Store) -> None:
    a = await session_in(store, Status.PAUSED)
    b = await session_in(store, Status.INTERRUPTED)
    c = await session_in(store, Status.COMPLETED)
    listed = [r.id for r in await store.list_sessions()]
    assert listed == [c, b, a]
    assert {r.id for r in await store.find_recoverable()} == {a, b}
    dismissed = await store.dismiss(b, who="ui")
    assert dismissed.dismissed_at is not None and dismissed.status == Status.INTERRUPTED
    assert [r.id for r in await store.find_recoverable()] == [a]
    with pytest.raises(NotDismissable):
        await store.dismiss(c, who="ui")
    # Resuming a dismissed session makes it visible again when it stops next time.
    await store.transition(b, Status.RUNNING, reason="resume", who="t")
    await store.transition(b, Status.INTERRUPTED, reason="signal", who="t")
    assert {r.id for r in await store.find_recoverable()} == {a, b}


async def test_summary_and_events(store: Store) -> None:
    session_id = await session_in(store, Status.RUNNING)
    await store.set_summary(session_id, {"pages": 3, "hosts": ["a"]})
    await store.add_event(session_id, "outage", "host down", who="crawler")
    assert (await store.get_session(session_id)).summary == {"pages": 3, "hosts": ["a"]}
    kinds = [e.kind for e in await store.events(session_id)]
    assert kinds == ["created", "transition", "outage"]
    with pytest.raises(SessionNotFound):
        await store.add_event("f" * 32, "x", "y", who="t")
