"""`recrawl ID`: a new session on ID's target and config that asks only for what changed.

The new session's config is ID's with `recrawl_of` set to ID: its crawl sends ID's validators
as conditions (engine/recrawl.py). Only a finished session (completed or failed) is recrawled:
one still running or resumable has not stored what it will store, and the diff of the two would
compare a crawl with half of itself.
"""

from __future__ import annotations

import argparse

from ..domain.config import CrawlConfig
from ..domain.location import StoreLocation
from ..domain.records import SessionRecord
from ..domain.status import Status
from ..service import SessionService
from .errors import BadInput
from .run import check_session_ref

__all__ = ["RECRAWLABLE", "recrawl_command", "recrawl_config", "recrawl_config_of"]

RECRAWLABLE = frozenset({Status.COMPLETED, Status.FAILED})


def recrawl_config_of(session: SessionRecord) -> CrawlConfig:
    """The config of a recrawl of `session`; BadInput (one line) when it cannot be recrawled."""
    if session.status not in RECRAWLABLE:
        raise BadInput(
            f"session {session.short_id} is {session.status.value}; only a completed or failed "
            "session can be recrawled (resume it, or wait for it to finish)"
        )
    names = session.config.extra.get("secret_header_names") or []
    if names:
        # Their values were deleted when the session ended: a recrawl without them would ask
        # for other pages than the ones stored, and every answer would look like a change.
        shown = ", ".join(str(n) for n in names)
        raise BadInput(
            f"session {session.short_id} was crawled with secret headers ({shown}), which are "
            "deleted when a session ends; start a new crawl with them instead"
        )
    return session.config.with_changes(recrawl_of=session.id)


async def recrawl_config(location: StoreLocation, ref: str) -> CrawlConfig:
    """The recrawl's config, checked read-only (creates nothing): for the app, which creates
    the session itself."""
    from ..service.local import LocalSessionService

    service = await LocalSessionService.open(location, who="cli", readonly=True)
    try:
        return recrawl_config_of(await service.get(check_session_ref(ref)))
    finally:
        await service.close()


async def recrawl_command(service: SessionService, args: argparse.Namespace) -> int:
    from .run import run_headless
    from .worker_cmd import run_detached

    config = recrawl_config_of(await service.get(args.session))
    session = await service.create(config)
    if args.detach:
        return await run_detached(service, session.id, as_json=args.json)
    return await run_headless(service, session.id, as_json=args.json)
