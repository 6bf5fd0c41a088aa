"""`tui-scraper attach ID`: the app, opened on the live screen of a session a worker runs."""

from __future__ import annotations

import asyncio

from ..domain.location import StoreLocation
from ..domain.status import FINAL, Status
from .datadir import store_command
from .errors import BadInput
from .run import check_session_ref

__all__ = ["attachable_id"]


def _command(verb: str, short_id: str, location: StoreLocation) -> str:
    return store_command(verb, short_id, location)


async def attachable_id(location: StoreLocation, session_ref: str) -> str:
    """The full id of the running session `session_ref` names, checked read-only (creates
    nothing); BadInput, one line, when it is not running in a background worker."""
    from ..service.local import LocalSessionService

    service = await LocalSessionService.open(location, who="cli", readonly=True)
    try:
        # Read-only: a `running` record whose worker is gone reads as interrupted.
        session = await service.get(check_session_ref(session_ref))
        worker = (
            await asyncio.to_thread(service.worker_of, session.id)
            if session.status is Status.RUNNING
            else None
        )
    finally:
        await service.close()
    short = session.short_id
    if session.status is not Status.RUNNING or worker is None:
        status = session.status.value if session.status is not Status.RUNNING else "interrupted"
        if session.status in FINAL:
            hint = f"see {_command('show', short, location)}"
        else:
            hint = f"resume it with {_command('resume', short, location)}"
        raise BadInput(f"session {short} is {status}, not running; {hint}")
    # On PostgreSQL the app follows the session from the database when no channel of its
    # worker is here (a worker on another machine, or joined workers only).
    no_channel = worker.socket_path is None or not worker.socket_path.exists()
    if no_channel and not location.is_postgres:
        raise BadInput(
            f"session {short} runs in process {worker.pid}, which serves no live channel "
            "(crawl --headless, or the app); attach follows a background worker"
        )
    return session.id
