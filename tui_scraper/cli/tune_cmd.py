"""`tui-scraper set ID …`: live tuning of a running crawl (rate, concurrency, exclude patterns).

`--exclude` adds to the session's current exclude patterns, as grab-site's ignore sets grow;
`--no-exclude` clears them first (alone, it removes them all). The change goes to the session's
worker over its live channel, else as a control record, and the line printed says which and
what the worker now applies.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..domain.config import CrawlConfig
from ..domain.tuning import Tuning
from ..safe_text import display_safe
from .errors import EXIT_BAD_INPUT, EXIT_OK
from .output import emit, warn

if TYPE_CHECKING:  # checked before the service is needed: only its type here
    from ..service import SessionService

__all__ = ["check_tuning_args", "tune_command"]


def tuning_from_args(args: argparse.Namespace, config: CrawlConfig | None) -> Tuning:
    """The change the options ask of a session whose config is `config` (None: only checked,
    before any session is looked at). ConfigError for a bad value or nothing to set."""
    exclude: tuple[str, ...] | None = None
    added = tuple(args.exclude or ())
    if args.no_exclude or added:
        current = () if args.no_exclude or config is None else config.exclude
        exclude = current + tuple(p for p in dict.fromkeys(added) if p not in current)
    return Tuning(rate=args.rate, concurrency=args.concurrency, exclude=exclude)


def check_tuning_args(args: argparse.Namespace) -> None:
    """Refuse bad values before the data dir is touched: nothing is created or recorded."""
    tuning_from_args(args, None)


async def tune_command(service: SessionService, args: argparse.Namespace) -> int:
    session = await service.get(args.session)
    tuning = tuning_from_args(args, session.config)
    delivery = await service.tune(session.id, tuning)
    outcome = delivery.outcome
    refused = outcome is not None and outcome.startswith(("refused", "ignored"))
    if args.json:
        record = {
            "session": session.id,
            "sent": tuning.as_args(),
            "via": delivery.via,
            "control_id": delivery.control_id,
            "outcome": outcome,
            "applied": outcome is not None and not refused,
        }
        emit(json.dumps(record, ensure_ascii=True))
        return EXIT_BAD_INPUT if refused else EXIT_OK
    from ..service.delivery import how_delivered, outcome_text

    how = how_delivered(delivery, service.location)
    said = outcome_text(delivery)
    line = f"set {tuning.describe()} sent to session {session.short_id} {how}: {said}"
    if refused:
        warn(line)
        return EXIT_BAD_INPUT
    emit(display_safe(line, 1000))
    return EXIT_OK
