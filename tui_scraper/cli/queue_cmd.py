"""`tui-scraper queue URL [crawl options]` and the queue's list and edits (`--list`, `--up ID`,
`--down ID`, `--remove ID`). A queued session is a pending session with a place; the service
(`service start`) starts them in order, at most its `--parallel` at a time."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..domain.location import StoreLocation
from ..safe_text import display_safe
from .errors import EXIT_BAD_INPUT, EXIT_OK, BadInput
from .output import emit, warn

__all__ = ["add_queue_parser", "check_args", "command", "queue_places"]

QUEUE_HELP = (
    "Add a crawl of URL to the service's queue: a pending session with its place, started by "
    "the background service (`tui-scraper service start`) in order, at most its --parallel at a "
    "time, each in a worker of its own. Same options and checks as `crawl`. Without URL: "
    "--list shows the queue, --up/--down ID move one entry a place, --remove ID takes it out "
    "(the session is kept, pending; `resume ID` still runs it)."
)


def add_queue_parser(sub: Any, sub_kw: dict[str, Any]) -> None:
    from .parser import URL_HELP, _add_crawl_options, _add_data_dir

    parser = sub.add_parser(
        "queue", **sub_kw, help="queue a crawl for the service", description=QUEUE_HELP
    )
    parser.add_argument("url", metavar="URL", nargs="?", help=URL_HELP)
    edit = parser.add_mutually_exclusive_group()
    edit.add_argument("--list", action="store_true", help="show the queue in order")
    edit.add_argument("--up", metavar="ID", help="move this queued session one place up")
    edit.add_argument("--down", metavar="ID", help="move this queued session one place down")
    edit.add_argument("--remove", metavar="ID", help="take this session out of the queue")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    _add_crawl_options(parser)
    _add_data_dir(parser)


def _action(args: argparse.Namespace) -> str:
    edits = [name for name in ("up", "down", "remove") if getattr(args, name)]
    if args.url is not None and (edits or args.list):
        raise BadInput("queue: give either URL or one of --list, --up, --down, --remove")
    if args.url is not None:
        return "add"
    if edits:
        return edits[0]
    return "list"


def check_args(args: argparse.Namespace) -> None:
    """Every crawl option checked before the data dir is touched (as `crawl` does)."""
    from .options import config_from_args, secret_headers_from_args

    args.action = _action(args)
    if args.action == "add":
        args.config = config_from_args(args)
        args.secrets = secret_headers_from_args(args)
    for name in ("up", "down", "remove"):
        value = getattr(args, name)
        if value is not None:
            from .run import check_session_ref

            setattr(args, name, check_session_ref(value))


async def command(args: argparse.Namespace, location: StoreLocation) -> int:
    from ..service.planning import PlanningService

    # A listing only looks: nothing is created or written.
    planning = await PlanningService.open(location, readonly=args.action == "list")
    try:
        if args.action == "add":
            queued = await planning.queue(args.config, secret_headers=args.secrets)
            if args.json:
                emit(json.dumps(_entry_json(queued.entry, queued.session.target_url)))
            else:
                emit(
                    f"queued {queued.session.id} at place {queued.entry.place}: "
                    f"{display_safe(queued.session.target_url, 200)}"
                )
            return EXIT_OK
        if args.action in ("up", "down"):
            ref = args.up if args.action == "up" else args.down
            entry = await planning.move(ref, -1 if args.action == "up" else 1)
            emit(f"session {entry.session_id[:8]} is now at place {entry.place}")
            return EXIT_OK
        if args.action == "remove":
            session = await planning.unqueue(args.remove)
            if session is None:
                warn(f"session {args.remove} is not in the queue")
                return EXIT_BAD_INPUT
            emit(
                f"removed {session.short_id} from the queue; the session is kept "
                f"({session.status.value}): `tui-scraper resume {session.short_id}` runs it"
            )
            return EXIT_OK
        return _print_queue(await planning.queued(), as_json=args.json)
    finally:
        await planning.close()


def _entry_json(entry: Any, target_url: str, status: str = "pending") -> dict[str, Any]:
    return {
        "id": entry.session_id,
        "place": entry.place or None,
        "started_at": entry.started_at,
        "queued_at": entry.queued_at,
        "status": status,
        "target_url": target_url,
    }


def _print_queue(queued: list[Any], *, as_json: bool) -> int:
    if as_json:
        rows = [_entry_json(q.entry, q.session.target_url, q.session.status.value) for q in queued]
        emit(json.dumps(rows, indent=2))
        return EXIT_OK
    if not queued:
        emit("the queue is empty — add a crawl with: tui-scraper queue URL")
        return EXIT_OK
    emit(f"{'PLACE':5}  {'ID':8}  {'STATUS':11}  {'QUEUED':19}  TARGET")
    for q in queued:
        place = str(q.entry.place) if q.entry.place else "-"
        status = "started" if q.entry.started_at is not None else q.session.status.value
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(q.entry.queued_at))
        emit(
            f"{place:5}  {q.session.short_id:8}  {status:11}  {when:19}  "
            f"{display_safe(q.session.target_url, 200)}"
        )
    return EXIT_OK


async def queue_places(location: StoreLocation) -> dict[str, int]:
    """Session id → place in the queue, for `sessions` (read-only; empty when unreadable)."""
    from ..service.planning import queue_places as places

    return await places(location)
