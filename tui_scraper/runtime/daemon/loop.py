"""The service's loop: every half second it settles what its started sessions became, starts
queued sessions while fewer than `parallel` run, and fires the schedules that are due.

Nothing is started twice, even across a kill of the service:
- a queue entry is marked started (compare-and-set) before its worker is spawned, and the
  worker takes the session's lease (pending → running) before it crawls: a second worker on it
  is refused by the lease whatever the service believes;
- an entry marked started whose session is still `pending` with nobody on its lease after
  START_GRACE_S (a service killed between the mark and the spawn) waits in the queue again;
- an entry whose session left `running` (completed, failed, paused, interrupted) is done and
  leaves the queue; an interrupted one is resumable by the user, never resumed by the service;
- a schedule fires by a compare-and-set on its due time (`fire_schedule`), its run's session
  created and queued in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ...domain.errors import InvalidTransition, ScraperError, SessionNotFound, StorageUnavailable
from ...domain.location import StoreLocation
from ...domain.schedules import MISSED_AFTER_S, RunOutcome, ScheduleRecord
from ...domain.status import Status
from ...ports import PlanningStore
from ..spawn import WorkerStartFailed, start_worker

TICK_S: Final = 0.5
# How long a started entry's session may stay `pending` (its worker starting) before a service
# that did not spawn it in this process takes the start as lost and queues it again.
START_GRACE_S: Final = 30.0

Say = Callable[[str], None]


@dataclass
class ServiceLoop:
    store: PlanningStore
    location: StoreLocation
    parallel: int
    say: Say
    who: str
    # Sessions whose worker this process is spawning now.
    _starting: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except StorageUnavailable as exc:
                self.say(f"waiting: {exc}")
            except ScraperError as exc:
                self.say(f"tick failed: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
        await self.finish_starts()

    async def finish_starts(self, timeout: float = 15.0) -> None:
        """Let workers being spawned come up (or fail) before the service exits."""
        pending = [t for t in self._starting.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def tick(self) -> None:
        # A worker that died leaves its session `running` until a writer settles it.
        await self.store.reap_orphans(who=self.who)
        active = await self._settle_started()
        await self._start_waiting(self.parallel - active)
        await self._fire_due(time.time())

    # the queue ---------------------------------------------------------------------------
    async def _settle_started(self) -> int:
        """Count the started entries still active; drop the finished, requeue the lost."""
        active = 0
        for entry in await self.store.queue_entries():
            if entry.started_at is None:
                continue
            status = await self._status(entry.session_id)
            if status is None:
                await self.store.remove_queued(entry.session_id)
            elif status is Status.RUNNING or entry.session_id in self._starting:
                active += 1
            elif status is Status.PENDING:
                if time.time() - entry.started_at < START_GRACE_S:
                    active += 1  # a start by an earlier service may still be coming up
                elif await self.store.unmark_queue_started(entry.session_id, entry.started_at):
                    self.say(f"session {entry.session_id}: its start was lost; queued again")
            else:
                await self.store.remove_queued(entry.session_id)
                self.say(f"session {entry.session_id}: {status.value}; out of the queue")
        return active

    async def _start_waiting(self, free: int) -> None:
        if free <= 0:
            return
        for entry in await self.store.queue_entries():
            if free <= 0:
                return
            if entry.started_at is not None:
                continue
            status = await self._status(entry.session_id)
            if status is not Status.PENDING:
                # Started by someone else (`resume`, the app) or gone: not the queue's any more.
                await self.store.remove_queued(entry.session_id)
                continue
            at = time.time()
            if not await self.store.mark_queue_started(entry.session_id, at):
                continue
            free -= 1
            self._starting[entry.session_id] = asyncio.create_task(
                self._start(entry.session_id), name=f"start-{entry.session_id[:8]}"
            )

    async def _start(self, session_id: str) -> None:
        try:
            started = await start_worker(self.location, session_id)
        except WorkerStartFailed as exc:
            await self._start_failed(session_id, str(exc))
        except Exception as exc:  # never lose the loop to one start
            await self._start_failed(session_id, f"{type(exc).__name__}: {exc}")
        else:
            self.say(f"session {session_id}: started (worker pid {started.pid})")
        finally:
            self._starting.pop(session_id, None)

    async def _start_failed(self, session_id: str, why: str) -> None:
        """A worker that never ran it: the session fails with the reason (retrying a start that
        failed would fail the same way, every tick). One another worker holds is left alone."""
        self.say(f"session {session_id}: cannot start: {why}")
        with contextlib.suppress(ScraperError):
            if await self._status(session_id) is Status.PENDING:
                try:
                    await self.store.transition(
                        session_id,
                        Status.FAILED,
                        reason=f"the service could not start it: {why}",
                        who=self.who,
                        expected=Status.PENDING,
                        error=why,
                    )
                except InvalidTransition:
                    return  # a worker took it meanwhile
                await self.store.remove_queued(session_id)

    async def _status(self, session_id: str) -> Status | None:
        try:
            return (await self.store.get_session(session_id)).status
        except SessionNotFound:
            return None

    # schedules ---------------------------------------------------------------------------
    async def _fire_due(self, now: float) -> None:
        due = [
            s for s in await self.store.list_schedules() if not s.paused and s.next_run_at <= now
        ]
        if not due:
            return
        queued = {e.session_id for e in await self.store.queue_entries()}
        for schedule in due:
            outcome, detail = await self._verdict(schedule, now, queued)
            run = await self.store.fire_schedule(
                schedule.id,
                due_at=schedule.next_run_at,
                next_run_at=following(schedule, now),
                outcome=outcome,
                detail=detail,
                who=self.who,
            )
            if run is None:
                continue  # fired by another service meanwhile, paused or removed
            what = f"session {run.session_id} queued" if run.session_id else outcome
            self.say(f"schedule {schedule.id}: {what}" + (f" ({detail})" if detail else ""))

    async def _verdict(
        self, schedule: ScheduleRecord, now: float, queued: set[str]
    ) -> tuple[RunOutcome, str]:
        late = now - schedule.next_run_at
        if late > MISSED_AFTER_S and schedule.missed == "skip":
            return "missed", f"due {late:.0f} s ago while the service was not running: skipped"
        previous = schedule.last_session_id
        if previous is not None:
            status = await self._status(previous)
            # A pending run counts only while it waits in the queue: one taken out of it by
            # hand would otherwise hold the schedule back for good.
            if status is Status.RUNNING or (status is Status.PENDING and previous in queued):
                where = "queued" if status is Status.PENDING else "running"
                return "skipped", f"the previous run {previous[:8]} is still {where}"
        if late > MISSED_AFTER_S:
            return "started", f"due {late:.0f} s ago while the service was not running: run once"
        return "started", ""


def following(schedule: ScheduleRecord, now: float) -> float:
    """The next due time after `now`. An interval keeps its phase (due + k × every); however
    many times were missed, the next one is in the future, so a late service fires once."""
    if schedule.every_s is not None:
        steps = math.floor((now - schedule.next_run_at) / schedule.every_s) + 1
        return schedule.next_run_at + max(1, steps) * schedule.every_s
    return schedule.following(now)
