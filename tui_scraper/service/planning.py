"""The queue, the schedules and the background service, for the CLI and the app.

Everything goes through the runtime (runtime/daemon): the store is never reached from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui_scraper.domain.config import CrawlConfig
from tui_scraper.domain.location import StoreLocation
from tui_scraper.domain.records import SessionRecord
from tui_scraper.domain.schedules import QueueEntry, ScheduleRecord, ScheduleRun, ScheduleSpec
from tui_scraper.domain.status import Status
from tui_scraper.runtime.daemon.book import Book, QueuedSession
from tui_scraper.runtime.daemon.files import ServiceInfo, log_path, running_service

if TYPE_CHECKING:
    # Imported by the functions that start or stop the service: a look (`sessions`, `show`)
    # never loads the worker starter.
    from tui_scraper.runtime.daemon.control import ServiceStart

__all__ = [
    "PlanningService",
    "QueuedSession",
    "ScheduleView",
    "ServiceInfo",
    "ServiceStart",
    "install_unit",
    "queue_places",
    "service_log",
    "service_running",
    "start",
    "stop",
]


@dataclass(frozen=True)
class ScheduleView:
    """A schedule and what became of its last run's session (None: no run yet)."""

    schedule: ScheduleRecord
    last_status: Status | None


class PlanningService:
    def __init__(self, book: Book) -> None:
        self._book = book

    @classmethod
    async def open(
        cls, location: StoreLocation, *, who: str = "cli", readonly: bool = False
    ) -> PlanningService:
        return cls(await Book.open(location, who=who, readonly=readonly))

    async def close(self) -> None:
        await self._book.close()

    # the queue ---------------------------------------------------------------------------
    async def queue(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> QueuedSession:
        return await self._book.queue(config, secret_headers=secret_headers)

    async def queued(self) -> list[QueuedSession]:
        return await self._book.queued()

    async def places(self) -> dict[str, int]:
        return await self._book.places()

    async def move(self, session_ref: str, delta: int) -> QueueEntry:
        return await self._book.move(session_ref, delta)

    async def unqueue(self, session_ref: str) -> SessionRecord | None:
        return await self._book.unqueue(session_ref)

    # schedules ---------------------------------------------------------------------------
    async def add_schedule(self, spec: ScheduleSpec) -> ScheduleRecord:
        return await self._book.add_schedule(spec)

    async def edit_schedule(self, schedule_id: str, spec: ScheduleSpec) -> ScheduleRecord:
        return await self._book.edit_schedule(schedule_id, spec)

    async def schedules(self) -> list[ScheduleView]:
        return [
            ScheduleView(record, await self._book.last_status(record))
            for record in await self._book.schedules()
        ]

    async def schedule(self, ref: str) -> ScheduleRecord:
        return await self._book.schedule(ref)

    async def remove_schedule(self, ref: str) -> ScheduleRecord:
        return await self._book.remove_schedule(ref)

    async def pause_schedule(self, ref: str, paused: bool) -> ScheduleRecord:
        return await self._book.pause_schedule(ref, paused)

    async def runs(self, schedule_id: str, *, limit: int = 50) -> list[ScheduleRun]:
        return await self._book.runs(schedule_id, limit=limit)

    async def schedule_of(self, session_id: str) -> str | None:
        return await self._book.schedule_of(session_id)


async def queue_places(location: StoreLocation) -> dict[str, int]:
    """Session id → place in the queue, for a listing: read-only, empty when it cannot be read
    (a listing never fails for the queue's sake)."""
    from tui_scraper.domain.errors import ScraperError

    try:
        planning = await PlanningService.open(location, who="look", readonly=True)
    except (ScraperError, OSError):
        return {}
    try:
        return await planning.places()
    except ScraperError:
        return {}
    finally:
        await planning.close()


# the service process ---------------------------------------------------------------------
async def start(location: StoreLocation, parallel: int) -> ServiceStart:
    from tui_scraper.runtime.daemon.control import start_service

    return await start_service(location, parallel)


async def stop(data_dir: Path) -> ServiceInfo | None:
    from tui_scraper.runtime.daemon.control import stop_service

    return await stop_service(data_dir)


def service_running(data_dir: Path) -> ServiceInfo | None:
    return running_service(data_dir)


def service_log(data_dir: Path) -> Path:
    return log_path(data_dir)


def install_unit(location: StoreLocation, parallel: int) -> Path:
    from tui_scraper.runtime.daemon.unit import write_unit

    return write_unit(location, parallel)
