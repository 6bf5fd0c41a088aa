"""main(): parse, pick the store, dispatch; every failure becomes one line and an exit code.

Where the store is comes from `--data-dir` and `--db` (or TUI_SCRAPER_DATA_DIR and
TUI_SCRAPER_DB): see datadir.py. A database URL's password is masked in every line printed here.
A PostgreSQL server that cannot be reached is not bad input: one line, exit 1, like a full disk.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from ..domain.errors import DatabaseError, ScraperError, StorageUnavailable
from ..domain.location import DB_ENV_VAR, StoreLocation, redact_password
from ..quick_exit import quick_exit
from ..safe_text import display_safe
from .datadir import choose_location
from .errors import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    STORAGE_ERRNOS,
    BadInput,
    StdoutFailed,
)
from .options import config_from_args, secret_headers_from_args
from .output import describe_os_error, emit, flush_stdout, reserve_std_fds, silence_stdout, warn
from .parser import build_parser

# Only what parsing and checking the arguments needs is imported above: the event loop, the
# service and the commands are imported once the arguments are known to be good, so `--help`
# and a refused argument (exit 2) pay for neither.

# Arguments that name files: bytes that are not UTF-8 are fine there (os.fsencode restores them).
PATH_ARGS = frozenset({"data_dir", "output", "header_file"})


# Arguments that may hold a password (a database URL): checked where they are parsed, never
# echoed here.
SECRET_ARGS = frozenset({"db"})


READ_ONLY_COMMANDS = frozenset({"sessions", "show", "export", "diff", "stats"})
# The queue, the schedules and the background service: each command's module checks its
# arguments before the data dir is touched and runs the command itself.
PLANNING_COMMANDS = {"queue": "queue_cmd", "schedule": "schedule_cmd", "service": "service_cmd"}


# ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. With no `argv` this is the program itself (the console
    script, `python -m tui_scraper`): a headless command then ends the process when it is done,
    without the interpreter's teardown (quick_exit.py). Called with arguments (tests, scripts
    in Python) it only returns."""
    reserve_std_fds()
    code = _run(argv)
    # The app keeps the exit it has (exit_guard.py restores the terminal, Textual cleans up).
    if argv is None and "textual" not in sys.modules:
        return quick_exit(code)
    return code


def _run(argv: Sequence[str] | None) -> int:
    try:
        code = _main(argv)
        flush_stdout()
        return code
    except StdoutFailed as exc:
        silence_stdout()
        if exc.errno == errno.EPIPE:
            # The reader is gone (`| head`): stop quietly, like a Unix tool killed by SIGPIPE.
            return EXIT_BROKEN_PIPE
        warn(f"cannot write to standard output: {exc.strerror}")
        return EXIT_FAILED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args: argparse.Namespace | None = None
    location: StoreLocation | None = None

    def say_store(text: str) -> None:
        # A database that cannot be reached or used is named, masked, unless the text does.
        if location is not None and location.is_postgres and location.shown not in text:
            text = f"database {location.shown}: {text}"
        say(text)

    def say(text: str) -> None:
        # The password of any database URL we were given never reaches stderr.
        urls = [os.environ.get(DB_ENV_VAR), getattr(args, "db", None)]
        for url in urls:
            if url:
                text = redact_password(text, url)
        warn(text)

    try:
        args = parser.parse_args(argv)
        _refuse_undecodable(args)
        if args.command == "crawl":
            # Every option is checked before the data dir is touched: bad input creates nothing.
            args.config = config_from_args(args)
            args.secrets = secret_headers_from_args(args)
        if args.command == "set":
            from .tune_cmd import check_tuning_args

            check_tuning_args(args)  # bad values refused before the data dir is touched
        if args.command in PLANNING_COMMANDS:
            import importlib

            planning = importlib.import_module(f".{PLANNING_COMMANDS[args.command]}", __package__)
            planning.check_args(args)
        location = choose_location(args)
        if args.command in PLANNING_COMMANDS:
            from ..run_async import run_async as run_planning

            return int(run_planning(planning.command(args, location)))
        if args.command == "worker":
            from .join_cmd import check_joinable_location, join_command

            check_joinable_location(location)
            from ..run_async import run_async as run_joined

            return run_joined(join_command(location, args.session))
        if getattr(args, "detach", False):
            from .worker_cmd import check_detachable

            check_detachable(location.data_dir)  # before anything is created
        from ..run_async import run_async
        from .run import resumable_id, run_ui

        if args.command is None:
            return run_ui(location)
        if args.command == "attach":
            from .attach_cmd import attachable_id

            # Resolved and checked before the UI starts: one line for a session not running.
            args.session = run_async(attachable_id(location, args.session))
            return run_ui(location, args=args)
        detach = getattr(args, "detach", False)
        if args.command == "recrawl" and not args.headless and not detach:
            from .recrawl_cmd import recrawl_config

            # Checked before the UI starts, which then creates the session like `crawl URL`.
            args.config = run_async(
                recrawl_config(location, args.session, getattr(args, "warc", None))
            )
            args.secrets = {}
            args.command = "crawl"
            return run_ui(location, args=args)
        if args.command in ("crawl", "resume", "demo") and not args.headless and not detach:
            if args.command == "resume":
                # Resolved before the UI starts: a wrong id is one line, not an app with a toast.
                args.session = run_async(resumable_id(location, args))
            return run_ui(location, args=args)
        return run_async(_dispatch(args, location))
    except StorageUnavailable as exc:
        # The disk refused a write (full, I/O error), or the database server cannot be
        # reached: not bad input. Committed data is intact.
        say_store(str(exc))
        return EXIT_FAILED
    except DatabaseError as exc:
        say_store(str(exc))
        return EXIT_BAD_INPUT
    except (BadInput, ScraperError) as exc:
        say(str(exc))
        return EXIT_BAD_INPUT
    except StdoutFailed:
        raise
    except OSError as exc:
        # Anything the system refused that no layer turned into a message of its own (a data
        # dir on a read-only file system, a path through a file): one line, never a traceback.
        say(describe_os_error(exc))
        return EXIT_FAILED if exc.errno in STORAGE_ERRNOS else EXIT_BAD_INPUT
    except (MemoryError, RuntimeError) as exc:
        from ..service.preflight import describe_own_fault

        text = describe_own_fault(exc)
        if text is None:
            raise
        # No memory (or no room for a thread) before the crawl could record it: one line, and
        # the session, if it was started, is settled as interrupted by the next writer.
        say(text)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _refuse_undecodable(args: argparse.Namespace) -> None:
    """Arguments that are not UTF-8 arrive as lone surrogates; only paths may carry them."""
    for key, value in vars(args).items():
        if key in PATH_ARGS or key in SECRET_ARGS:
            continue  # a secret's own check refuses it without echoing it
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _has_surrogate(item):
                option = key.replace("_", "-")
                raise BadInput(f"{option} {display_safe(item, 60)!r} is not valid UTF-8 text")


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


async def _dispatch(args: argparse.Namespace, location: StoreLocation) -> int:
    import asyncio

    from ..service import SessionService
    from ..service.local import LocalSessionService
    from .datadir import can_look_in, open_to_look
    from .export_cmd import export_command
    from .history import print_sessions, print_show
    from .run import check_resumable, check_session_ref, run_demo, run_headless
    from .stats_cmd import stats_command
    from .tune_cmd import tune_command
    from .worker_cmd import run_detached, worker_command

    if getattr(args, "session", None) is not None:
        args.session = check_session_ref(args.session)
    service: SessionService
    try:
        if args.command in READ_ONLY_COMMANDS and (
            location.is_postgres or can_look_in(location.data_dir)
        ):
            # A look writes nothing: no data dir or database is created to say "no session
            # matches", and an orphaned `running` session is not reaped by a listing.
            service = await open_to_look(location)
        else:
            service = await LocalSessionService.open(location, who="cli")
    except OSError as exc:
        # e.g. a data dir on a read-only file system: name the dir, then what refused.
        raise BadInput(
            f"data dir {location.data_dir} cannot be used: {describe_os_error(exc)}"
        ) from None
    try:
        if args.command == "crawl":
            session = await service.create(args.config, secret_headers=args.secrets)
            if args.detach:
                return await run_detached(service, session.id, as_json=args.json)
            return await run_headless(service, session.id, as_json=args.json)
        if args.command == "resume":
            session = await service.get(args.session)
            await check_resumable(service, session, without_secrets=args.without_secrets)
            if args.detach:
                return await run_detached(service, session.id, as_json=args.json)
            return await run_headless(service, session.id, as_json=args.json)
        if args.command in ("pause", "cancel"):
            return await worker_command(service, args.session, args.command)
        if args.command == "set":
            return await tune_command(service, args)
        if args.command == "demo":
            return await run_demo(service)
        if args.command == "sessions":
            from ..domain.status import Status
            from .queue_cmd import queue_places

            listed = await service.list_sessions()
            pending = any(s.status is Status.PENDING for s in listed)
            places = await queue_places(location) if pending else {}
            return print_sessions(listed, as_json=args.json, places=places)
        if args.command == "show":
            from .schedule_cmd import schedule_of

            session = await service.get(args.session)
            events = await service.events(session.id)
            schedule_id = await schedule_of(location, session.id)
            return print_show(session, events, as_json=args.json, schedule_id=schedule_id)
        if args.command == "dismiss":
            session = await service.dismiss(args.session)
            emit(f"dismissed {session.short_id} ({session.status.value}); it can still be resumed")
            return EXIT_OK
        if args.command == "export":
            return await export_command(service, args)
        if args.command == "recrawl":
            from .recrawl_cmd import recrawl_command

            return await recrawl_command(service, args)
        if args.command == "diff":
            from .diff_cmd import diff_command

            return await diff_command(service, args)
        if args.command == "stats":
            return await stats_command(service, args)
        raise BadInput(f"unknown command {args.command}")
    finally:
        await asyncio.wait_for(service.close(), 30)
