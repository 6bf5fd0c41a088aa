"""`tui-scraper schedule add|list|show|remove|pause|resume`: recurring crawls.

Each time a schedule comes due, the service (`service start`) queues a new session of its
crawl, linked to it (`show ID --json` names the schedule). A run due while the previous one is
still queued or running is skipped and recorded. Missed runs (the service was not running) are
handled by the schedule's declared policy, shown by `list`: `run-once` (default) runs once when
the service is back, `skip` records them as missed and waits for the next time.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..domain.location import StoreLocation
from ..domain.schedules import (
    MISSED_POLICIES,
    ScheduleRecord,
    ScheduleRun,
    ScheduleSpec,
    check_cron,
    parse_every,
)
from ..safe_text import display_safe
from .errors import EXIT_OK, BadInput
from .output import emit

__all__ = ["add_schedule_parser", "check_args", "command", "schedule_of"]

SCHEDULE_HELP = __doc__.split("\n\n", 1)[1].strip() if __doc__ else ""
ID_HELP = "schedule id (a unique prefix is enough)"


def add_schedule_parser(sub: Any, sub_kw: dict[str, Any]) -> None:
    from .parser import URL_HELP, _add_crawl_options, _add_data_dir, _Parser

    parser = sub.add_parser(
        "schedule", **sub_kw, help="recurring crawls, run by the service", description=SCHEDULE_HELP
    )
    _add_data_dir(parser)
    actions = parser.add_subparsers(
        dest="schedule_action", parser_class=_Parser, metavar="ACTION", required=True
    )
    add = actions.add_parser(
        "add",
        **sub_kw,
        help="a crawl of URL, every interval or by a cron expression",
        description="Add a schedule: a crawl of URL with the same options and checks as "
        "`crawl`, every --every interval (30s, 15m, 6h, 1d; the first run one interval from "
        "now) or at the times of --cron (five fields, e.g. '0 3 * * *' for 03:00 every day) "
        "in --tz. Daylight-saving changes are croniter's: a time a change skips is run at the "
        "first time after it, a time a change repeats is run at both. Secret headers are not "
        "kept for schedules (they are never stored in the database).",
    )
    add.add_argument("url", metavar="URL", help=URL_HELP)
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", metavar="INTERVAL", help="e.g. 30s, 15m, 6h, 1d")
    when.add_argument(
        "--cron", metavar="EXPR", help="e.g. '0 3 * * *' (minute hour day month weekday)"
    )
    add.add_argument(
        "--tz",
        default="UTC",
        metavar="ZONE",
        help="the time zone of --cron, e.g. Europe/Paris (default: UTC)",
    )
    add.add_argument(
        "--missed",
        choices=MISSED_POLICIES,
        default="run-once",
        help="runs missed while the service was down: run once when it is back, or skip them "
        "(default: run-once)",
    )
    add.add_argument("--json", action="store_true", help="print the schedule as JSON")
    _add_crawl_options(add)
    _add_data_dir(add)
    listing = actions.add_parser(
        "list", **sub_kw, help="every schedule: timing, next run, last result, missed-run policy"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_dir(listing)
    show = actions.add_parser("show", **sub_kw, help="one schedule and its recent runs")
    show.add_argument("schedule", help=ID_HELP)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_dir(show)
    for name, what in (
        ("remove", "no more runs (its past runs stay linked to their sessions)"),
        ("pause", "no runs until resumed"),
        ("resume", "runs again, the next time counted from now"),
    ):
        action = actions.add_parser(name, **sub_kw, help=f"{name} a schedule: {what}")
        action.add_argument("schedule", help=ID_HELP)
        _add_data_dir(action)


def check_args(args: argparse.Namespace) -> None:
    """Options, interval and cron checked before the data dir is touched."""
    if args.schedule_action != "add":
        return
    from .options import config_from_args

    if args.header or args.cookie or args.header_file or args.header_env:
        raise BadInput(
            "schedule add: secret headers (--header, --cookie, --header-file, --header-env) "
            "are not kept for schedules; use them with `crawl` or `queue`"
        )
    config = config_from_args(args)
    every = parse_every(args.every) if args.every is not None else None
    cron = check_cron(args.cron) if args.cron is not None else None
    if args.tz != "UTC" and cron is None:
        raise BadInput("schedule add: --tz applies to --cron only")
    args.spec = ScheduleSpec(
        config=config, every_s=every, cron=cron, tz=args.tz, missed=args.missed
    )


async def command(args: argparse.Namespace, location: StoreLocation) -> int:
    from ..service.planning import PlanningService

    # `list` and `show` only look: nothing is created or written.
    planning = await PlanningService.open(
        location, readonly=args.schedule_action in ("list", "show")
    )
    try:
        action = args.schedule_action
        if action == "add":
            record = await planning.add_schedule(args.spec)
            if args.json:
                emit(json.dumps(_schedule_json(record, None), indent=2))
            else:
                emit(
                    f"schedule {record.id}: {display_safe(record.target_url, 200)} "
                    f"{record.timing}, missed runs: {record.missed}; next run "
                    f"{_when(record.next_run_at)} (the service runs it: tui-scraper service start)"
                )
            return EXIT_OK
        if action == "list":
            views = await planning.schedules()
            if args.json:
                emit(
                    json.dumps([_schedule_json(v.schedule, v.last_status) for v in views], indent=2)
                )
                return EXIT_OK
            if not views:
                emit("no schedules — add one with: tui-scraper schedule add URL --every 6h")
                return EXIT_OK
            emit(
                f"{'ID':8}  {'TIMING':32}  {'NEXT RUN':19}  {'MISSED':8}  "
                f"{'LAST RESULT':24}  TARGET"
            )
            for view in views:
                record = view.schedule
                next_run = "paused" if record.paused else _when(record.next_run_at)
                emit(
                    f"{record.short_id:8}  {display_safe(record.timing, 32):32}  {next_run:19}  "
                    f"{record.missed:8}  {_last_result(record, view.last_status):24}  "
                    f"{display_safe(record.target_url, 200)}"
                )
            return EXIT_OK
        if action == "show":
            record = await planning.schedule(args.schedule)
            runs = await planning.runs(record.id)
            if args.json:
                by_id = {v.schedule.id: v for v in await planning.schedules()}
                shown = _schedule_json(record, by_id[record.id].last_status)
                shown["runs"] = [_run_json(r) for r in runs]
                emit(json.dumps(shown, indent=2))
                return EXIT_OK
            emit(f"schedule  {record.id}")
            emit(f"target    {display_safe(record.target_url, 300)}")
            emit(f"timing    {display_safe(record.timing, 100)}, missed runs: {record.missed}")
            emit(f"next run  {'paused' if record.paused else _when(record.next_run_at)}")
            emit("runs")
            for run in runs:
                session = run.session_id[:8] if run.session_id else "-"
                detail = f"  {display_safe(run.detail, 200)}" if run.detail else ""
                emit(f"  {_when(run.at)}  {run.outcome:8}  {session:8}{detail}")
            return EXIT_OK
        if action == "remove":
            record = await planning.remove_schedule(args.schedule)
            emit(f"removed schedule {record.short_id}; its past runs stay in the history")
            return EXIT_OK
        record = await planning.pause_schedule(args.schedule, action == "pause")
        if record.paused:
            emit(f"paused schedule {record.short_id}")
        else:
            emit(f"schedule {record.short_id} runs again; next run {_when(record.next_run_at)}")
        return EXIT_OK
    finally:
        await planning.close()


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _last_result(record: ScheduleRecord, status: Any) -> str:
    if record.last_outcome is None:
        return "no run yet"
    if record.last_outcome == "started" and record.last_session_id:
        value = status.value if status is not None else "?"
        return f"{record.last_session_id[:8]} {value}"
    return record.last_outcome


def _schedule_json(record: ScheduleRecord, status: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "target_url": record.target_url,
        "every_s": record.every_s,
        "cron": record.cron,
        "tz": record.tz,
        "timing": record.timing,
        "missed_policy": record.missed,
        "paused": record.paused,
        "next_run_at": record.next_run_at,
        "created_at": record.created_at,
        "last_run_at": record.last_run_at,
        "last_outcome": record.last_outcome,
        "last_detail": record.last_detail,
        "last_session_id": record.last_session_id,
        "last_session_status": status.value if status is not None else None,
        "config": json.loads(record.config.to_json()),
    }


def _run_json(run: ScheduleRun) -> dict[str, Any]:
    return {
        "at": run.at,
        "outcome": run.outcome,
        "session_id": run.session_id,
        "detail": run.detail,
    }


async def schedule_of(location: StoreLocation, session_id: str) -> str | None:
    """The schedule whose run `session_id` is, for `show` (read-only; None when unreadable)."""
    from ..domain.errors import ScraperError
    from ..service.planning import PlanningService

    try:
        planning = await PlanningService.open(location, readonly=True)
    except (ScraperError, OSError):
        return None
    try:
        return await planning.schedule_of(session_id)
    except ScraperError:
        return None
    finally:
        await planning.close()
