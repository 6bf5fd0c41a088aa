"""`tui-scraper service start|status|stop|install-unit`: the background service of a data dir,
which starts queued sessions (at most --parallel at a time) and fires schedules."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Final

from ..domain.location import StoreLocation
from ..safe_text import display_safe
from .errors import EXIT_FAILED, EXIT_OK
from .output import emit, warn

__all__ = ["EXIT_NOT_RUNNING", "add_service_parser", "check_args", "command"]

# `service status` when no service runs: the LSB's "program is not running".
EXIT_NOT_RUNNING: Final = 3

SERVICE_HELP = (
    "The background service of this data dir (one per data dir): it starts queued sessions "
    "(`tui-scraper queue URL`), at most --parallel at a time, each in a background worker of its "
    "own, and queues a session each time a schedule (`tui-scraper schedule add`) comes due. "
    "`start` returns once it runs (a second start says it is already running, exit 0); `status` "
    f"exits 0 while it runs and {EXIT_NOT_RUNNING} when it does not; `stop` stops the service "
    "only: the workers it started KEEP CRAWLING to their end (pause or cancel them by id), and "
    "a service started again counts them and starts nothing twice. Its log is "
    "logs/service.log in the data dir."
)


def add_service_parser(sub: Any, sub_kw: dict[str, Any]) -> None:
    from .parser import _add_data_dir, _Parser

    parser = sub.add_parser(
        "service",
        **sub_kw,
        help="the background service: queue and schedules",
        description=SERVICE_HELP,
    )
    _add_data_dir(parser)
    actions = parser.add_subparsers(
        dest="service_action", parser_class=_Parser, metavar="ACTION", required=True
    )
    start = actions.add_parser(
        "start", **sub_kw, help="start the service in the background (detached)"
    )
    _add_parallel(start)
    _add_data_dir(start)
    status = actions.add_parser(
        "status",
        **sub_kw,
        help=f"whether it runs (exit 0; {EXIT_NOT_RUNNING} when not), what it runs, the queue",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_dir(status)
    stop = actions.add_parser(
        "stop",
        **sub_kw,
        help="stop the service; the workers it started keep crawling",
    )
    _add_data_dir(stop)
    unit = actions.add_parser(
        "install-unit",
        **sub_kw,
        help="write a systemd user unit that runs the service (nothing is enabled)",
        description="Write ~/.config/systemd/user/tui-scraper.service (under $XDG_CONFIG_HOME "
        "when set), which runs the service of this data dir in the foreground. Nothing is "
        "enabled or started: the commands to do so are printed.",
    )
    _add_parallel(unit)
    _add_data_dir(unit)


def _add_parallel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="at most N queued sessions run at a time, 1 to 64",
    )


def check_args(args: argparse.Namespace) -> None:
    from ..domain.schedules import MAX_PARALLEL
    from .errors import BadInput

    parallel = getattr(args, "parallel", 1)
    if not 1 <= parallel <= MAX_PARALLEL:
        raise BadInput(f"--parallel {parallel}: give a number from 1 to {MAX_PARALLEL}")


async def command(args: argparse.Namespace, location: StoreLocation) -> int:
    from ..domain.schedules import ServiceError

    try:
        return await _command(args, location)
    except ServiceError as exc:  # not bad input: the service would not start or stop
        warn(str(exc))
        return EXIT_FAILED


async def _command(args: argparse.Namespace, location: StoreLocation) -> int:
    from ..service import planning

    action = args.service_action
    data_dir = location.data_dir
    if action == "start":
        started = await planning.start(location, args.parallel)
        info = started.info
        if started.already:
            emit(f"already running (pid {info.pid}, at most {info.parallel} at a time)")
        else:
            emit(
                f"service started (pid {info.pid}, at most {info.parallel} at a time); "
                f"log: {display_safe(str(started.log_path), 300)}"
            )
        return EXIT_OK
    if action == "stop":
        stopped = await planning.stop(data_dir)
        if stopped is None:
            emit("the service is not running")
        else:
            emit(f"service stopped (pid {stopped.pid}); the workers it started keep crawling")
        return EXIT_OK
    if action == "install-unit":
        path = planning.install_unit(location, args.parallel)
        shown = display_safe(str(path), 300)
        emit(f"wrote {shown} (nothing enabled)")
        emit("to run it now and at every login: systemctl --user enable --now tui-scraper.service")
        return EXIT_OK
    return await _status(location, as_json=args.json)


async def _status(location: StoreLocation, *, as_json: bool) -> int:
    from ..domain.errors import ScraperError
    from ..service.planning import PlanningService, service_running

    info = service_running(location.data_dir)
    queued: list[Any] = []
    views: list[Any] = []
    try:
        planning = await PlanningService.open(location, readonly=True)
    except (ScraperError, OSError):
        planning = None
    if planning is not None:
        try:
            queued = await planning.queued()
            views = await planning.schedules()
        finally:
            await planning.close()
    started = [q for q in queued if q.entry.started_at is not None]
    waiting = [q for q in queued if q.entry.started_at is None]
    due = [v.schedule for v in views if not v.schedule.paused]
    following = min(due, key=lambda s: s.next_run_at) if due else None
    code = EXIT_OK if info is not None else EXIT_NOT_RUNNING
    if as_json:
        record = {
            "running": info is not None,
            "pid": info.pid if info else None,
            "parallel": info.parallel if info else None,
            "started_at": info.started_at if info else None,
            "started": [{"id": q.session.id, "status": q.session.status.value} for q in started],
            "waiting": [q.session.id for q in waiting],
            "next_schedule": None
            if following is None
            else {"id": following.id, "next_run_at": following.next_run_at},
        }
        emit(json.dumps(record, indent=2))
        return code
    if info is None:
        emit("the service is not running (start it with: tui-scraper service start)")
    else:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.started_at))
        emit(f"running (pid {info.pid}, at most {info.parallel} at a time, since {since})")
    for q in started:
        emit(
            f"  running  {q.session.short_id}  {q.session.status.value:11}  "
            f"{display_safe(q.session.target_url, 200)}"
        )
    emit(f"queue: {len(waiting)} waiting")
    for q in waiting:
        emit(
            f"  {q.entry.place:>5}  {q.session.short_id}  {display_safe(q.session.target_url, 200)}"
        )
    if following is not None:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(following.next_run_at))
        emit(
            f"next schedule: {following.short_id} at {at} "
            f"({display_safe(following.target_url, 200)})"
        )
    return code
