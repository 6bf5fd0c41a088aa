"""The service's queue and the schedules (QueuePort, SchedulesPort), on every backend."""

from __future__ import annotations

import time

import pytest

from tui_scraper.domain import SessionNotFound
from tui_scraper.domain.errors import ConfigError
from tui_scraper.domain.schedules import (
    AmbiguousScheduleId,
    NotQueueable,
    ScheduleNotFound,
    ScheduleSpec,
)
from tui_scraper.domain.status import Status

from .backends import ContractStore, Harness
from .helpers import config, owner


async def _pending(store: ContractStore, name: str = "") -> str:
    return (await store.create_session(config(f"http://127.0.0.1:9/{name}"), who="t")).id


# the queue ---------------------------------------------------------------------------------
async def test_enqueue_appends_in_order_with_places(backend: ContractStore) -> None:
    assert await backend.queue_entries() == []
    ids = [await _pending(backend, str(n)) for n in range(3)]
    for n, session_id in enumerate(ids, start=1):
        entry = await backend.enqueue_session(session_id)
        assert (entry.session_id, entry.place, entry.started_at) == (session_id, n, None)
    again = await backend.enqueue_session(ids[0])  # already queued: stays where it is
    assert again.place == 1
    listed = await backend.queue_entries()
    assert [e.session_id for e in listed] == ids
    assert [e.place for e in listed] == [1, 2, 3]


async def test_only_a_pending_session_is_queued(backend: ContractStore) -> None:
    session_id = await _pending(backend)
    await backend.acquire_run(session_id, owner(), who="t", reason="test")
    with pytest.raises(NotQueueable):
        await backend.enqueue_session(session_id)
    with pytest.raises(SessionNotFound):
        await backend.enqueue_session("f" * 32)
    assert await backend.queue_entries() == []


async def test_move_up_and_down_swaps_with_the_neighbour(backend: ContractStore) -> None:
    a, b, c = [await _pending(backend, n) for n in "abc"]
    for session_id in (a, b, c):
        await backend.enqueue_session(session_id)
    moved = await backend.move_queued(c, -1)
    assert moved.place == 2
    assert [e.session_id for e in await backend.queue_entries()] == [a, c, b]
    await backend.move_queued(a, -1)  # at the top: nothing moves
    await backend.move_queued(b, +1)  # at the bottom: nothing moves
    assert [e.session_id for e in await backend.queue_entries()] == [a, c, b]
    await backend.move_queued(a, +1)
    assert [e.session_id for e in await backend.queue_entries()] == [c, a, b]
    with pytest.raises(NotQueueable):
        await backend.move_queued("f" * 32, 1)


async def test_remove_takes_an_entry_out(backend: ContractStore) -> None:
    a, b = await _pending(backend, "a"), await _pending(backend, "b")
    await backend.enqueue_session(a)
    await backend.enqueue_session(b)
    assert await backend.remove_queued(a) is True
    assert await backend.remove_queued(a) is False
    listed = await backend.queue_entries()
    assert [(e.session_id, e.place) for e in listed] == [(b, 1)]
    # The session itself is kept, still pending.
    assert (await backend.get_session(a)).status is Status.PENDING


async def test_mark_started_is_a_compare_and_set(backend: ContractStore) -> None:
    a, b = await _pending(backend, "a"), await _pending(backend, "b")
    await backend.enqueue_session(a)
    await backend.enqueue_session(b)
    at = time.time()
    assert await backend.mark_queue_started(a, at) is True
    assert await backend.mark_queue_started(a, at + 1) is False
    listed = await backend.queue_entries()
    assert [(e.session_id, e.started_at, e.place) for e in listed] == [(a, at, 0), (b, None, 1)]
    with pytest.raises(NotQueueable):
        await backend.move_queued(a, 1)  # a started entry has no place to move
    assert await backend.unmark_queue_started(a, at + 1) is False  # not this start
    assert await backend.unmark_queue_started(a, at) is True
    assert [e.place for e in await backend.queue_entries()] == [1, 2]


async def test_a_queue_entry_is_seen_by_another_handle(harness: Harness) -> None:
    first = await harness.open()
    try:
        session_id = await _pending(first)
        await first.enqueue_session(session_id)
    finally:
        await first.close()
    second = await harness.open()
    try:
        assert [e.session_id for e in await second.queue_entries()] == [session_id]
    finally:
        await second.close()


# schedules ---------------------------------------------------------------------------------
def _spec(**changes: object) -> ScheduleSpec:
    fields: dict[str, object] = {"config": config(), "every_s": 3600.0}
    fields.update(changes)
    return ScheduleSpec(**fields)  # type: ignore[arg-type]


async def test_add_list_get_and_resolve_a_schedule(backend: ContractStore) -> None:
    before = time.time()
    every = await backend.add_schedule(_spec(every_s=21600.0))
    cron = await backend.add_schedule(
        _spec(every_s=None, cron="0 3 * * *", tz="Europe/Paris", missed="skip")
    )
    assert every.timing == "every 6h" and cron.timing == "cron 0 3 * * * (Europe/Paris)"
    assert before + 21600 <= every.next_run_at <= time.time() + 21600
    assert cron.next_run_at > before and cron.missed == "skip" and not cron.paused
    assert every.config == config()
    assert [s.id for s in await backend.list_schedules()] == [every.id, cron.id]
    assert await backend.get_schedule(cron.id) == cron
    assert await backend.resolve_schedule(every.id[:6].upper()) == every.id
    with pytest.raises(ScheduleNotFound):
        await backend.resolve_schedule("zz")
    with pytest.raises(ScheduleNotFound):
        await backend.get_schedule("0" * 32)


async def test_an_ambiguous_prefix_is_refused(backend: ContractStore) -> None:
    made = [await backend.add_schedule(_spec()) for _ in range(20)]
    first = {s.id[0] for s in made}
    shared = next(ch for ch in first if sum(s.id[0] == ch for s in made) > 1)
    with pytest.raises(AmbiguousScheduleId):
        await backend.resolve_schedule(shared)


def test_a_spec_needs_exactly_one_timing() -> None:
    with pytest.raises(ConfigError):
        ScheduleSpec(config=config())
    with pytest.raises(ConfigError):
        ScheduleSpec(config=config(), every_s=60.0, cron="* * * * *")
    with pytest.raises(ConfigError):
        ScheduleSpec(config=config(), cron="61 * * * *")
    with pytest.raises(ConfigError):
        ScheduleSpec(config=config(), every_s=60.0, tz="Mars/Olympus")


async def test_remove_hides_the_schedule_but_keeps_its_runs_linked(
    backend: ContractStore,
) -> None:
    schedule = await backend.add_schedule(_spec())
    run = await backend.fire_schedule(
        schedule.id,
        due_at=schedule.next_run_at,
        next_run_at=schedule.next_run_at + 3600,
        outcome="started",
        detail="",
        who="t",
    )
    assert run is not None and run.session_id is not None
    assert await backend.remove_schedule(schedule.id) is True
    assert await backend.remove_schedule(schedule.id) is False
    assert await backend.list_schedules() == []
    with pytest.raises(ScheduleNotFound):
        await backend.resolve_schedule(schedule.id)
    assert await backend.schedule_of_session(run.session_id) == schedule.id


async def test_pause_and_resume(backend: ContractStore) -> None:
    schedule = await backend.add_schedule(_spec())
    paused = await backend.set_schedule_paused(schedule.id, True)
    assert paused.paused and paused.next_run_at == schedule.next_run_at
    # A paused schedule does not fire.
    assert (
        await backend.fire_schedule(
            schedule.id,
            due_at=schedule.next_run_at,
            next_run_at=schedule.next_run_at + 1,
            outcome="started",
            detail="",
            who="t",
        )
        is None
    )
    resumed = await backend.set_schedule_paused(schedule.id, False, next_run_at=12345.0)
    assert not resumed.paused and resumed.next_run_at == 12345.0


async def test_fire_starts_a_queued_session_once(backend: ContractStore) -> None:
    schedule = await backend.add_schedule(_spec())
    due = schedule.next_run_at
    run = await backend.fire_schedule(
        schedule.id, due_at=due, next_run_at=due + 3600, outcome="started", detail="", who="t"
    )
    assert run is not None and run.outcome == "started" and run.schedule_id == schedule.id
    assert run.session_id is not None
    # The same due time fired again (a second service, a replay after a kill): nothing.
    assert (
        await backend.fire_schedule(
            schedule.id, due_at=due, next_run_at=due + 3600, outcome="started", detail="", who="t"
        )
        is None
    )
    session = await backend.get_session(run.session_id)
    assert session.status is Status.PENDING and session.config == schedule.config
    assert [e.session_id for e in await backend.queue_entries()] == [run.session_id]
    assert any(e.kind == "scheduled" for e in await backend.events(run.session_id))
    after = await backend.get_schedule(schedule.id)
    assert after.next_run_at == due + 3600
    assert (after.last_session_id, after.last_outcome) == (run.session_id, "started")
    assert await backend.schedule_of_session(run.session_id) == schedule.id
    assert await backend.schedule_of_session(await _pending(backend)) is None


async def test_a_skipped_run_is_recorded_without_a_session(backend: ContractStore) -> None:
    schedule = await backend.add_schedule(_spec())
    started = await backend.fire_schedule(
        schedule.id,
        due_at=schedule.next_run_at,
        next_run_at=schedule.next_run_at + 10,
        outcome="started",
        detail="",
        who="t",
    )
    assert started is not None
    skipped = await backend.fire_schedule(
        schedule.id,
        due_at=schedule.next_run_at + 10,
        next_run_at=schedule.next_run_at + 20,
        outcome="skipped",
        detail="the previous run is still running",
        who="t",
    )
    assert skipped is not None and skipped.session_id is None
    runs = await backend.schedule_runs(schedule.id)
    assert [(r.outcome, r.session_id) for r in runs] == [
        ("skipped", None),
        ("started", started.session_id),
    ]
    assert runs[0].detail == "the previous run is still running"
    after = await backend.get_schedule(schedule.id)
    # The last session stays the one that ran; the last outcome is the skip.
    assert (after.last_session_id, after.last_outcome) == (started.session_id, "skipped")
    assert len(await backend.queue_entries()) == 1


async def test_update_changes_crawl_and_timing_and_keeps_the_runs(
    backend: ContractStore,
) -> None:
    schedule = await backend.add_schedule(_spec())
    run = await backend.fire_schedule(
        schedule.id,
        due_at=schedule.next_run_at,
        next_run_at=schedule.next_run_at + 3600,
        outcome="started",
        detail="",
        who="t",
    )
    assert run is not None
    before = time.time()
    changed = await backend.update_schedule(
        schedule.id,
        ScheduleSpec(config(max_pages=5), cron="0 3 * * *", tz="Europe/Paris", missed="skip"),
    )
    assert (changed.every_s, changed.cron, changed.tz, changed.missed) == (
        None,
        "0 3 * * *",
        "Europe/Paris",
        "skip",
    )
    assert changed.config.max_pages == 5 and changed.next_run_at > before
    assert changed.last_session_id == run.session_id
    assert [r.id for r in await backend.schedule_runs(schedule.id)] == [run.id]
    with pytest.raises(ScheduleNotFound):
        await backend.update_schedule("0" * 32, _spec())
