"""The service loop's rules on a real SQLite store, in this process, without spawning workers:
the missed-run policy, a lost start queued again, and interval phase."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain.config import CrawlConfig
from tui_scraper.domain.location import StoreLocation
from tui_scraper.domain.schedules import ScheduleRecord, ScheduleSpec
from tui_scraper.ports import PlanningStore
from tui_scraper.runtime.daemon.loop import START_GRACE_S, ServiceLoop, following

CONFIG = CrawlConfig(target_url="http://127.0.0.1:9/")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "d")
    try:
        yield opened
    finally:
        await opened.close()


def _loop(store: Store, tmp_path: Path, said: list[str]) -> ServiceLoop:
    return ServiceLoop(
        cast(PlanningStore, store), StoreLocation(tmp_path / "d"), 1, said.append, who="test"
    )


async def _overdue(store: Store, spec: ScheduleSpec, late_s: float) -> ScheduleRecord:
    """A schedule whose next run was `late_s` ago (the service was down meanwhile)."""
    record = await store.add_schedule(spec)
    await store.set_schedule_paused(record.id, False, next_run_at=time.time() - late_s)
    return await store.get_schedule(record.id)


async def test_skip_policy_records_missed_runs_and_starts_none(
    store: Store, tmp_path: Path
) -> None:
    record = await _overdue(store, ScheduleSpec(CONFIG, every_s=60.0, missed="skip"), 3600)
    said: list[str] = []
    now = time.time()
    await _loop(store, tmp_path, said)._fire_due(now)
    runs = await store.schedule_runs(record.id)
    assert [(r.outcome, r.session_id) for r in runs] == [("missed", None)]
    assert "skipped" in runs[0].detail
    assert await store.queue_entries() == []
    assert (await store.get_schedule(record.id)).next_run_at > now


async def test_run_once_policy_starts_one_run_however_many_were_missed(
    store: Store, tmp_path: Path
) -> None:
    record = await _overdue(store, ScheduleSpec(CONFIG, every_s=60.0), 3600)  # 60 missed
    loop = _loop(store, tmp_path, [])
    now = time.time()
    await loop._fire_due(now)
    await loop._fire_due(now + 1)  # the next tick: nothing is due any more
    runs = await store.schedule_runs(record.id)
    assert [r.outcome for r in runs] == ["started"]
    assert "run once" in runs[0].detail
    assert [e.session_id for e in await store.queue_entries()] == [runs[0].session_id]
    after = await store.get_schedule(record.id)
    assert now < after.next_run_at <= now + 60
    # The interval keeps its phase: due times stay on the original grid.
    assert (after.next_run_at - record.next_run_at) % 60 == pytest.approx(0, abs=1e-6)


async def test_a_cron_schedule_that_missed_runs_once_at_its_next_time(
    store: Store, tmp_path: Path
) -> None:
    record = await _overdue(store, ScheduleSpec(CONFIG, cron="*/5 * * * *"), 7200)
    now = time.time()
    await _loop(store, tmp_path, [])._fire_due(now)
    after = await store.get_schedule(record.id)
    assert [r.outcome for r in await store.schedule_runs(record.id)] == ["started"]
    assert now < after.next_run_at <= now + 300
    assert after.next_run_at % 300 == 0


async def test_a_start_lost_with_a_killed_service_is_queued_again(
    store: Store, tmp_path: Path
) -> None:
    lost = await store.create_session(CONFIG, who="t")
    recent = await store.create_session(CONFIG, who="t")
    for session in (lost, recent):
        await store.enqueue_session(session.id)
    await store.mark_queue_started(lost.id, time.time() - START_GRACE_S - 1)
    await store.mark_queue_started(recent.id, time.time())
    said: list[str] = []
    active = await _loop(store, tmp_path, said)._settle_started()
    # The recent start may still be coming up: counted, left alone. The old one waits again.
    assert active == 1
    entries = {e.session_id: e for e in await store.queue_entries()}
    assert entries[lost.id].started_at is None and entries[lost.id].place == 1
    assert entries[recent.id].started_at is not None
    assert any("queued again" in line for line in said)


def test_following_keeps_an_interval_on_its_grid() -> None:
    record = ScheduleRecord(
        id="0" * 32,
        config=CONFIG,
        every_s=10.0,
        cron=None,
        tz="UTC",
        missed="run-once",
        paused=False,
        next_run_at=100.0,
        created_at=0.0,
    )
    assert following(record, 100.0) == 110.0
    assert following(record, 100.5) == 110.0
    assert following(record, 135.0) == 140.0


async def test_a_run_still_queued_skips_the_next_but_one_taken_out_does_not(
    store: Store, tmp_path: Path
) -> None:
    record = await store.add_schedule(ScheduleSpec(CONFIG, every_s=60.0))
    await store.set_schedule_paused(record.id, False, next_run_at=time.time() - 1)
    loop = _loop(store, tmp_path, [])
    await loop._fire_due(time.time())
    [first] = await store.schedule_runs(record.id)
    assert first.outcome == "started" and first.session_id is not None
    # Due again while the first waits in the queue: skipped.
    await store.set_schedule_paused(record.id, False, next_run_at=time.time() - 1)
    await loop._fire_due(time.time())
    assert (await store.schedule_runs(record.id))[0].outcome == "skipped"
    # Taken out of the queue by hand (kept pending): it no longer holds the schedule back.
    await store.remove_queued(first.session_id)
    await store.set_schedule_paused(record.id, False, next_run_at=time.time() - 1)
    await loop._fire_due(time.time())
    assert (await store.schedule_runs(record.id))[0].outcome == "started"
