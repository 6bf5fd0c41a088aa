"""The commands around background workers: `crawl/resume --detach`, `pause`, `cancel`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.status import Status
from ..safe_text import display_safe
from .errors import EXIT_OK
from .history import print_show
from .output import emit, flush_stdout

if TYPE_CHECKING:  # checked before the service is needed: only its type here
    from ..service import SessionService

__all__ = ["check_detachable", "run_detached", "worker_command"]


def check_detachable(data_dir: Path) -> None:
    """The service's refusal of a data dir no worker could serve a socket in. Imported here,
    not at the top: the channel's modules cost every other command a tenth of a second."""
    from ..service.remote import check_detachable as refuse_unless_detachable

    refuse_unless_detachable(data_dir)


async def run_detached(service: SessionService, session_id: str, *, as_json: bool) -> int:
    """Start the session in a worker of its own and return once it runs: the id on stdout
    (or, with --json, the session record as `show --json` prints it)."""
    before = await service.get(session_id)
    worker = await service.start_detached(session_id)
    session = await service.get(session_id)
    verb = "started" if before.status is Status.PENDING else "resumed"
    line = f"session {session.short_id} {verb} in the background (worker pid {worker.pid})"
    if session.status is not Status.RUNNING:
        line += f"; it is already {session.status.value}"
    print(display_safe(line, 300), file=sys.stderr)
    if worker.log_path is not None:
        print(f"its log: {display_safe(str(worker.log_path), 1000)}", file=sys.stderr)
    if as_json:
        return print_show(session, await service.events(session.id), as_json=True)
    emit(session.id)
    flush_stdout()
    return EXIT_OK


async def worker_command(service: SessionService, session_ref: str, command: str) -> int:
    """Send `pause` or `cancel` to a running session's worker and say how it got there."""
    session = await service.get(session_ref)
    delivery = await service.command_worker(session.id, command)
    from ..service.delivery import how_delivered, outcome_text

    how = how_delivered(delivery, service.location)
    outcome = outcome_text(delivery)
    emit(display_safe(f"{command} sent to session {session.short_id} {how}: {outcome}", 1000))
    return EXIT_OK
