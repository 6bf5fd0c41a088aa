"""The queue and the schedules as the service layer asks for them (commands, the app): one
store of the location, opened here, and the session rules of SessionManager for what it creates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import cast

from ...backends.open import open_store
from ...domain.config import CrawlConfig
from ...domain.errors import ConfigError
from ...domain.location import StoreLocation
from ...domain.records import SessionRecord
from ...domain.schedules import (
    QueueEntry,
    ScheduleRecord,
    ScheduleRun,
    ScheduleSpec,
)
from ...domain.status import Status
from ...ports import PlanningStore
from ..manager import SessionManager


@dataclass(frozen=True)
class QueuedSession:
    entry: QueueEntry
    session: SessionRecord


class Book:
    def __init__(self, store: PlanningStore, location: StoreLocation, *, who: str) -> None:
        self._store = store
        self._location = location
        self._who = who
        self._manager = SessionManager(store, location, who=who)

    @classmethod
    async def open(cls, location: StoreLocation, *, who: str, readonly: bool = False) -> Book:
        store = cast(PlanningStore, await open_store(location, readonly=readonly))
        return cls(store, location, who=who)

    async def close(self) -> None:
        await self._store.close()

    # the queue ---------------------------------------------------------------------------
    async def queue(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> QueuedSession:
        """A new pending session at the end of the queue (validated as `crawl` validates)."""
        session = await self._manager.create(config, secret_headers=secret_headers)
        entry = await self._store.enqueue_session(session.id)
        return QueuedSession(entry, session)

    async def queued(self) -> list[QueuedSession]:
        found = []
        for entry in await self._store.queue_entries():
            found.append(QueuedSession(entry, await self._store.get_session(entry.session_id)))
        return found

    async def places(self) -> dict[str, int]:
        """Session id → its place among the waiting entries (1 = next)."""
        return {e.session_id: e.place for e in await self._store.queue_entries() if e.place}

    async def move(self, session_ref: str, delta: int) -> QueueEntry:
        return await self._store.move_queued(await self._store.resolve_id(session_ref), delta)

    async def unqueue(self, session_ref: str) -> SessionRecord | None:
        """Out of the queue (the session is kept, pending); None when it was not queued."""
        session_id = await self._store.resolve_id(session_ref)
        if not await self._store.remove_queued(session_id):
            return None
        return await self._store.get_session(session_id)

    # schedules ---------------------------------------------------------------------------
    async def add_schedule(self, spec: ScheduleSpec) -> ScheduleRecord:
        """Stored with its config checked and canonical, as a session's would be."""
        return await self._store.add_schedule(_checked(spec))

    async def edit_schedule(self, schedule_id: str, spec: ScheduleSpec) -> ScheduleRecord:
        return await self._store.update_schedule(schedule_id, _checked(spec))

    async def schedules(self) -> list[ScheduleRecord]:
        return await self._store.list_schedules()

    async def schedule(self, ref: str) -> ScheduleRecord:
        return await self._store.get_schedule(await self._store.resolve_schedule(ref))

    async def remove_schedule(self, ref: str) -> ScheduleRecord:
        record = await self.schedule(ref)
        await self._store.remove_schedule(record.id)
        return record

    async def pause_schedule(self, ref: str, paused: bool) -> ScheduleRecord:
        """Resuming counts the next time from now: a long pause is not a run to catch up."""
        record = await self.schedule(ref)
        next_run_at = None if paused else record.following(time.time())
        if not paused and not record.paused:
            next_run_at = None
        return await self._store.set_schedule_paused(record.id, paused, next_run_at=next_run_at)

    async def runs(self, schedule_id: str, *, limit: int = 50) -> list[ScheduleRun]:
        return await self._store.schedule_runs(schedule_id, limit=limit)

    async def schedule_of(self, session_id: str) -> str | None:
        return await self._store.schedule_of_session(session_id)

    async def last_status(self, record: ScheduleRecord) -> Status | None:
        if record.last_session_id is None:
            return None
        return (await self._store.get_session(record.last_session_id)).status


def _checked(spec: ScheduleSpec) -> ScheduleSpec:
    """The spec with its config checked and its URL canonical (as `SessionManager.create`)."""
    from ...engine.extract import validate_rules
    from ...engine.urls import canonicalize

    spec.config.validate()
    validate_rules(spec.config.extract)
    canonical = canonicalize(spec.config.target_url)
    if canonical is None:
        raise ConfigError("url", f"{spec.config.target_url!r} cannot be crawled")
    return replace(spec, config=spec.config.with_changes(target_url=canonical))
