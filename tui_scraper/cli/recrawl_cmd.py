"""`recrawl ID`: a new session on ID's target and config that asks only for what changed
(service/recrawl.py says which sessions can be recrawled, and with what config)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..domain.config import CrawlConfig
from ..domain.location import StoreLocation
from ..service import SessionService
from ..service.recrawl import recrawl_config_of
from .run import check_session_ref

__all__ = ["recrawl_command", "recrawl_config"]


async def recrawl_config(location: StoreLocation, ref: str, warc: str | None = None) -> CrawlConfig:
    """The recrawl's config, checked read-only (creates nothing): for the app, which creates
    the session itself."""
    from ..service.local import LocalSessionService

    service = await LocalSessionService.open(location, who="cli", readonly=True)
    try:
        return _with_live_warc(recrawl_config_of(await service.get(check_session_ref(ref))), warc)
    finally:
        await service.close()


def _with_live_warc(config: CrawlConfig, warc: str | None) -> CrawlConfig:
    """`--warc FILE`: the recrawl's own live WARC (a new file, checked before anything is
    created; stored absolute like `crawl --warc`'s)."""
    if not warc:
        return config
    from ..warc_live import CONFIG_KEY, check_new_target

    target = str(check_new_target(Path(warc)))
    return config.with_changes(extra={**config.extra, CONFIG_KEY: target})


async def recrawl_command(service: SessionService, args: argparse.Namespace) -> int:
    from .run import run_headless
    from .worker_cmd import run_detached

    config = _with_live_warc(
        recrawl_config_of(await service.get(args.session)), getattr(args, "warc", None)
    )
    session = await service.create(config)
    if args.detach:
        return await run_detached(service, session.id, as_json=args.json)
    return await run_headless(service, session.id, as_json=args.json)
