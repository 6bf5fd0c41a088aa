"""Command line: the headless engine and the session history; the TUI is imported lazily.

Exit codes: 0 completed, 1 failed (or the disk refused a write), 2 bad input, 130 interrupted by
a signal, 141 standard output was closed by its reader (as for a tool killed by SIGPIPE).

Standard output carries only results (a session id, a JSON record, a listing, an export), so
scripts can capture it; everything for people goes to stderr, one line per message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .paths import ENV_VAR, resolve_data_dir, user_data_dir
from .run_async import run_async
from .safe_text import display_safe
from .session.config import (
    CrawlConfig,
    ExtractRule,
    validate_header_name,
    validate_header_value,
)
from .session.errors import ScraperError
from .session.records import SessionRecord
from .session.status import RESUMABLE, Status
from .store.db import DB_FILENAME, StorageUnavailable
from .store.secrets import delete_secret_headers, secrets_problem

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for a tool killed by SIGPIPE
# errnos that mean "the disk", not "what you typed": exit 1 like StorageUnavailable.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
# Arguments that name files: bytes that are not UTF-8 are fine there (os.fsencode restores them).
PATH_ARGS = frozenset({"data_dir", "output", "header_file"})
READ_ONLY_COMMANDS = frozenset({"sessions", "show", "export"})
STATUS_EXIT = {
    Status.COMPLETED: EXIT_OK,
    Status.FAILED: EXIT_FAILED,
    Status.INTERRUPTED: EXIT_INTERRUPTED,
    Status.PAUSED: EXIT_INTERRUPTED,
}


class BadInput(Exception):
    """A problem with what the user typed; printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: scripts read stderr, people read the first line.
        raise BadInput(f"{message} (see {self.prog} --help)")


class _HelpFormatter(argparse.HelpFormatter):
    """Show the default of every option that has one, so a new option cannot forget it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool | list)
            or default == ""
        ):
            return text
        return f"{text} (default: %(default)s)"


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="where sessions are stored (default: $TUI_SCRAPER_DATA_DIR, else "
        f"{display_safe(user_data_dir())})",
    )


_DEFAULTS = CrawlConfig(target_url="http://x/")
_BOUNDS = "from {} to {}".format
URL_HELP = (
    "the start URL (http:// or https://); links found on it are followed within --scope, "
    "so the crawl stays on its host by default"
)
SECRETS_HELP = (
    "Secret headers are sent only to the start URL's origin and never stored in the database. "
    "Values given with --header/--cookie are visible to other users in `ps` while the crawl "
    "runs: prefer --header-file FILE or --header-env VAR. The values are kept in a 0600 file "
    "in the data dir while the session can be resumed, and deleted when it completes or fails."
)


def _add_crawl_options(parser: argparse.ArgumentParser) -> None:
    """Crawl options of `crawl` (one group, one call per option: add new ones anywhere)."""
    from .session.config import DEFAULT_MAX_PARAM_VALUES, DEFAULT_MAX_PER_PATTERN

    g = parser.add_argument_group("crawl options")
    g.add_argument("--max-pages", type=int, help="stop after this many pages (default: no limit)")
    g.add_argument(
        "--max-depth", type=int, help="follow links at most this many hops deep (default: no limit)"
    )
    g.add_argument(
        "--concurrency", type=int, default=_DEFAULTS.concurrency, help="requests in flight"
    )
    g.add_argument(
        "--per-host",
        type=int,
        default=_DEFAULTS.per_host_concurrency,
        help="requests in flight per host",
    )
    g.add_argument(
        "--rate",
        type=float,
        help="at most N requests per second per host, 0.01 to 1000 (default: no limit)",
    )
    g.add_argument(
        "--scope",
        choices=("host", "domain", "any"),
        default=_DEFAULTS.scope,
        help="which links to follow: same host, same registrable domain, or any",
    )
    g.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="REGEX",
        help="only crawl URLs matching this regex (repeatable)",
    )
    g.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="REGEX",
        help="never crawl URLs matching this regex (repeatable)",
    )
    g.add_argument("--ignore-robots", action="store_true", help="do not obey robots.txt")
    g.add_argument(
        "--extract",
        action="append",
        default=[],
        metavar="NAME=CSS[@attr]",
        help="extract every match of a CSS selector (repeatable)",
    )
    g.add_argument(
        "--download",
        default="",
        metavar="TYPES",
        help="also store files of these types, e.g. 'image/*,application/pdf' (default: none)",
    )
    g.add_argument(
        "--retries",
        type=int,
        default=_DEFAULTS.retries,
        help="retries of a transient failure (timeout, 5xx, reset), 0 to 20",
    )
    g.add_argument(
        "--timeout",
        type=float,
        default=_DEFAULTS.request_timeout,
        metavar="SECONDS",
        help="overall deadline of one request, headers and body, 0.1 to 3600",
    )
    g.add_argument(
        "--max-body",
        type=int,
        default=_DEFAULTS.max_body_bytes,
        metavar="BYTES",
        help="largest body stored, in bytes after decompression; larger pages fail",
    )
    g.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private/loopback addresses even if the start URL is public",
    )
    g.add_argument(
        "--max-per-pattern",
        type=int,
        default=DEFAULT_MAX_PER_PATTERN,
        metavar="N",
        help="trap guard: at most N URLs of one shape, digits aside, e.g. /cal?day=N "
        f"(default {DEFAULT_MAX_PER_PATTERN}; 0: no limit)",
    )
    g.add_argument(
        "--max-param-values",
        type=int,
        default=DEFAULT_MAX_PARAM_VALUES,
        metavar="N",
        help="trap guard: at most N distinct values of one query parameter per host "
        f"(default {DEFAULT_MAX_PARAM_VALUES}; 0: no limit)",
    )
    g.add_argument(
        "--ca-bundle",
        metavar="FILE",
        default=None,
        help="also trust the CA certificates in this PEM file (e.g. a local CA)",
    )
    g.add_argument(
        "--insecure",
        action="store_true",
        help="do NOT verify TLS certificates (anyone on the path can read and change pages)",
    )
    g.add_argument(
        "--user-agent", default=_DEFAULTS.user_agent, metavar="TEXT", help="User-Agent header"
    )
    s = parser.add_argument_group("secret headers", SECRETS_HELP)
    s.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header, e.g. Authorization (repeatable)",
    )
    s.add_argument(
        "--cookie",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="cookie (repeatable)",
    )
    s.add_argument(
        "--header-file",
        action="append",
        default=[],
        metavar="FILE",
        help="read headers from FILE, one 'NAME: VALUE' per line; blank lines and lines "
        "starting with # are skipped (repeatable)",
    )
    s.add_argument(
        "--header-env",
        action="append",
        default=[],
        metavar="VAR",
        help="read headers from environment variable VAR, same format as --header-file",
    )


SESSION_HELP = "session id (a unique prefix is enough)"
JSON_HELP = (
    "with --headless: print one JSON record at the end on stdout "
    "(id, status, counts, duration_s) instead of the bare id"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tui-scraper",
        formatter_class=_HelpFormatter,
        description="Web crawls as durable sessions. With no command, opens the terminal app "
        "(the recovery screen first if a crawl was interrupted).",
    )
    parser.add_argument("--version", action="version", version=f"tui-scraper {__version__}")
    _add_data_dir(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    sub_kw: dict[str, Any] = {"formatter_class": _HelpFormatter}

    crawl = sub.add_parser(
        "crawl",
        **sub_kw,
        help="start a new crawl session",
        description="Start a crawl session of URL.",
    )
    crawl.add_argument("url", metavar="URL", help=URL_HELP)
    crawl.add_argument(
        "--headless",
        action="store_true",
        help="no UI: progress lines on stderr, the session id on stdout",
    )
    crawl.add_argument("--json", action="store_true", help=JSON_HELP)
    _add_crawl_options(crawl)
    _add_data_dir(crawl)

    resume = sub.add_parser("resume", **sub_kw, help="resume a paused or interrupted session")
    resume.add_argument("session", help=SESSION_HELP)
    resume.add_argument(
        "--headless",
        action="store_true",
        help="no UI: progress lines on stderr, the session id on stdout",
    )
    resume.add_argument("--json", action="store_true", help=JSON_HELP)
    resume.add_argument(
        "--without-secrets",
        action="store_true",
        help="resume even though the secret headers this session was started with are missing "
        "or damaged; they are then not sent",
    )
    _add_data_dir(resume)

    demo = sub.add_parser("demo", **sub_kw, help="crawl the built-in demo site (no network needed)")
    demo.add_argument("--headless", action="store_true", help="no UI: print progress lines")
    _add_data_dir(demo)

    sessions = sub.add_parser("sessions", **sub_kw, help="list every session")
    sessions.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_dir(sessions)

    show = sub.add_parser("show", **sub_kw, help="one session: config, progress, timeline")
    show.add_argument("session", help=SESSION_HELP)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_dir(show)

    dismiss = sub.add_parser(
        "dismiss", **sub_kw, help="hide an interrupted/paused session from recovery"
    )
    dismiss.add_argument("session", help=SESSION_HELP)
    _add_data_dir(dismiss)

    export = sub.add_parser("export", **sub_kw, help="write a session's pages as JSON Lines or CSV")
    export.add_argument("session", help=SESSION_HELP)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="file format")
    export.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="where to write (default: standard output). A regular file is replaced "
        "atomically and keeps its mode; a FIFO, device or /dev/fd/N is written in place. "
        "To a terminal, control characters in page text are shown as \N{REPLACEMENT CHARACTER}",
    )
    export.add_argument(
        "--keep-formulas",
        action="store_true",
        help="CSV: leave cells starting with = + - @ as they are (by default they get a "
        "leading ' so a spreadsheet shows them as text instead of running them)",
    )
    _add_data_dir(export)
    return parser


def secret_headers_from_args(args: argparse.Namespace) -> dict[str, str]:
    """Every secret header of the command line, files and environment, checked: a value the
    HTTP client would refuse (CR/LF, beyond latin-1) would fail every page, so it is bad input."""
    specs: list[tuple[str, str]] = [("--header", spec) for spec in args.header]
    for name in args.header_file:
        specs += [(f"--header-file {name}", line) for line in _header_lines(_read_file(name))]
    for var in args.header_env:
        if var not in os.environ:
            raise BadInput(f"--header-env {var}: the environment variable is not set")
        specs += [(f"--header-env {var}", line) for line in _header_lines(os.environ[var])]
    headers: dict[str, str] = {}
    for where, spec in specs:
        name, sep, value = spec.partition(":")
        name = name.strip()
        if not sep or not name:
            raise BadInput(f"{where}: expected 'NAME: VALUE', got {display_safe(spec, 60)!r}")
        validate_header_name(where, name)
        headers[name] = validate_header_value(f"{where} {name}", value.strip())
    cookies = []
    for spec in args.cookie:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or ";" in spec:
            raise BadInput(
                f"--cookie {display_safe(name.strip() or spec, 60)!r}: expected NAME=VALUE"
            )
        validate_header_name("--cookie", name.strip())
        cookies.append(f"{name.strip()}={validate_header_value('--cookie', value.strip())}")
    if cookies:
        headers["Cookie"] = "; ".join(filter(None, [headers.get("Cookie"), *cookies]))
    return headers


def _read_file(name: str) -> str:
    try:
        with open(name, encoding="utf-8") as fh:
            return fh.read(1 << 20)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInput(f"--header-file {name}: {why}") from None


def _header_lines(text: str) -> list[str]:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def config_from_args(args: argparse.Namespace) -> CrawlConfig:
    download = tuple(t.strip() for t in args.download.split(",") if t.strip())
    config = CrawlConfig(
        target_url=args.url,
        max_pages=args.max_pages,
        max_depth=args.max_depth,
        concurrency=args.concurrency,
        per_host_concurrency=args.per_host,
        rate_per_host=args.rate,
        scope=args.scope,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        respect_robots=not args.ignore_robots,
        extract=tuple(ExtractRule.parse(spec) for spec in args.extract),
        download=download,
        retries=args.retries,
        request_timeout=args.timeout,
        max_body_bytes=args.max_body,
        allow_private=args.allow_private,
        ca_bundle=args.ca_bundle,
        trap_max_per_pattern=args.max_per_pattern,
        trap_max_param_values=args.max_param_values,
        insecure=args.insecure,
        **({"user_agent": args.user_agent} if args.user_agent else {}),
    )
    config.validate()
    from .crawl.extract import validate_rules

    validate_rules(config.extract)
    from .crawl.tls import INSECURE_WARNING, check_ca_bundle

    if config.ca_bundle is not None:
        check_ca_bundle(config.ca_bundle)
        # Stored absolute: a resume from another directory must find the same file.
        config = config.with_changes(ca_bundle=os.path.abspath(config.ca_bundle))
    if config.insecure:
        print(INSECURE_WARNING, file=sys.stderr)
    return config


# ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    _reserve_std_fds()
    try:
        code = _main(argv)
        _flush_stdout()
        return code
    except StdoutFailed as exc:
        _silence_stdout()
        if exc.errno == errno.EPIPE:
            # The reader is gone (`| head`): stop quietly, like a Unix tool killed by SIGPIPE.
            return EXIT_BROKEN_PIPE
        _error(f"cannot write to standard output: {exc.strerror}")
        return EXIT_FAILED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _refuse_undecodable(args)
        if args.command == "crawl":
            # Every option is checked before the data dir is touched: bad input creates nothing.
            args.config = config_from_args(args)
            args.secrets = secret_headers_from_args(args)
        data_dir = _data_dir(args)
        if args.command is None:
            return _run_ui(data_dir)
        if args.command in ("crawl", "resume", "demo") and not args.headless:
            if args.command == "resume":
                # Resolved before the UI starts: a wrong id is one line, not an app with a toast.
                args.session = run_async(_resumable_id(data_dir, args))
            return _run_ui(data_dir, args=args)
        return run_async(_dispatch(args, data_dir))
    except StorageUnavailable as exc:
        # The disk refused a write (full, I/O error): not bad input. Committed data is intact.
        _error(str(exc))
        return EXIT_FAILED
    except (BadInput, ScraperError) as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except StdoutFailed:
        raise
    except OSError as exc:
        # Anything the system refused that no layer turned into a message of its own (a data
        # dir on a read-only file system, a path through a file): one line, never a traceback.
        _error(_describe_os_error(exc))
        return EXIT_FAILED if exc.errno in STORAGE_ERRNOS else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _describe_os_error(exc: OSError) -> str:
    where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _refuse_undecodable(args: argparse.Namespace) -> None:
    """Arguments that are not UTF-8 arrive as lone surrogates; only paths may carry them."""
    for key, value in vars(args).items():
        if key in PATH_ARGS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _has_surrogate(item):
                option = key.replace("_", "-")
                raise BadInput(f"{option} {display_safe(item, 60)!r} is not valid UTF-8 text")


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _data_dir(args: argparse.Namespace) -> Path:
    chosen = getattr(args, "data_dir", None)
    if chosen is not None and not chosen.strip():
        raise BadInput("--data-dir is empty: name a directory")
    env = os.environ.get(ENV_VAR)
    if chosen is None and env is not None and not env.strip():
        raise BadInput(f"{ENV_VAR} is set but empty: name a directory or unset it")
    data_dir = resolve_data_dir(chosen)
    if chosen is None and env is None and not os.environ.get("HOME"):
        # The default comes from the password database then: say where data goes.
        _error(f"HOME is not set; using the data dir {data_dir}")
    _check_chosen_data_dir(data_dir, chosen=chosen is not None)
    return data_dir


def _check_chosen_data_dir(data_dir: Path, *, chosen: bool) -> None:
    """A data dir the user named may be created, but not its parents: a missing parent is most
    likely a typo or a disk that is not mounted, and a tree made there would hide the mistake."""
    chosen = chosen or bool(os.environ.get(ENV_VAR))
    if chosen and not data_dir.exists() and not data_dir.parent.is_dir():
        raise BadInput(f"data dir {data_dir}: {data_dir.parent} does not exist (create it first)")


class StdoutFailed(Exception):
    """Standard output refused a write (reader gone, disk full)."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror)
        self.errno = exc.errno
        self.strerror = exc.strerror or str(exc)


def _reserve_std_fds() -> None:
    """Started with fd 0, 1 or 2 closed (`>&-`): put /dev/null there. Otherwise the next file we
    open (the database!) would get that number, and a stray write to "stdout" would land in it.
    Python has already set sys.stdout to None for a closed fd 1, so writes still report it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)


def _out(text: str = "") -> None:
    """Print a line on stdout; a failure becomes StdoutFailed, handled once in main()."""
    if sys.stdout is None:
        raise StdoutFailed(OSError(errno.EBADF, os.strerror(errno.EBADF)))
    try:
        print(text)
    except OSError as exc:
        raise StdoutFailed(exc) from None


def _flush_stdout() -> None:
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except OSError as exc:
        raise StdoutFailed(exc) from None
    except ValueError:  # stdout was closed
        pass


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's last flush cannot fail again at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def _error(message: str) -> None:
    print(f"tui-scraper: {display_safe(message, 1000)}", file=sys.stderr)


def _run_ui(data_dir: Path, args: argparse.Namespace | None = None) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # The app would draw its escape codes into the file or pipe stdout points at.
        raise BadInput("the terminal app needs a terminal; use --headless in scripts")
    from .ui.app import run_app  # Textual is imported only when the UI runs

    if args is None:
        return run_app(data_dir)
    if args.command == "demo":
        return run_app(data_dir, demo=True)
    if args.command == "crawl":
        return run_app(data_dir, new_config=args.config, new_secrets=args.secrets)
    return run_app(data_dir, resume=args.session)


async def _resumable_id(data_dir: Path, args: argparse.Namespace) -> str:
    """The full id of the session `resume` names, checked read-only (creates nothing)."""
    from .store import Store

    store = await Store.open(data_dir, readonly=True)
    try:
        session = await store.get_session(await store.resolve_id(_session_ref(args.session)))
    finally:
        await store.close()
    _check_resumable(session, data_dir, without_secrets=args.without_secrets)
    return session.id


def _session_ref(ref: str) -> str:
    if not ref.strip() or not all(c in "0123456789abcdefABCDEF" for c in ref.strip()):
        raise BadInput(f"{display_safe(ref, 60)!r} is not a session id (hex digits, see sessions)")
    return ref.strip()


def _check_resumable(session: SessionRecord, data_dir: Path, *, without_secrets: bool) -> None:
    """Refuse a resume that cannot do what the first run did: a final session, or one whose
    secret headers are gone (its requests would silently go out without Authorization)."""
    if session.status not in RESUMABLE:
        raise BadInput(
            f"session {session.short_id} is {session.status.value}; "
            "only paused or interrupted sessions can be resumed"
        )
    names = [str(n) for n in session.config.extra.get("secret_header_names") or []]
    problem = secrets_problem(data_dir, session.id, names) if names else None
    if problem is None:
        return
    if not without_secrets:
        raise BadInput(
            f"session {session.short_id} was started with secret headers "
            f"({', '.join(names)}) but {problem}; add --without-secrets to resume without them"
        )
    with contextlib.suppress(OSError):
        # Told to go on without them: a damaged file would otherwise fail the start.
        delete_secret_headers(data_dir, session.id)
    _error(f"resuming {session.short_id} without its secret headers ({', '.join(names)})")


async def _dispatch(args: argparse.Namespace, data_dir: Path) -> int:
    from .manager import SessionManager
    from .store import Store

    if getattr(args, "session", None) is not None:
        args.session = _session_ref(args.session)
    try:
        if args.command in READ_ONLY_COMMANDS and _nothing_stored_yet(data_dir):
            # Nothing stored yet: answer from an empty read-only store instead of creating a
            # data dir and a database just to say "no session matches".
            manager = SessionManager(await Store.open(data_dir, readonly=True), who="cli")
        else:
            manager = await SessionManager.open(data_dir, who="cli")
    except OSError as exc:
        # e.g. a data dir on a read-only file system: name the dir, then what refused.
        raise BadInput(f"data dir {data_dir} cannot be used: {_describe_os_error(exc)}") from None
    try:
        if args.command == "crawl":
            session = await manager.create(args.config, secret_headers=args.secrets)
            return await _run_headless(manager, session.id, as_json=args.json)
        if args.command == "resume":
            session = await manager.get(args.session)
            _check_resumable(session, data_dir, without_secrets=args.without_secrets)
            return await _run_headless(manager, session.id, as_json=args.json)
        if args.command == "demo":
            return await _run_demo(manager)
        if args.command == "sessions":
            return _print_sessions(await manager.list_sessions(), as_json=args.json)
        if args.command == "show":
            session = await manager.get(args.session)
            events = await manager.events(session.id)
            return _print_show(session, events, as_json=args.json)
        if args.command == "dismiss":
            session = await manager.dismiss(args.session)
            _out(f"dismissed {session.short_id} ({session.status.value}); it can still be resumed")
            return EXIT_OK
        if args.command == "export":
            return await _export(manager, args)
        raise BadInput(f"unknown command {args.command}")
    finally:
        await asyncio.wait_for(manager.close(), 30)


def _nothing_stored_yet(data_dir: Path) -> bool:
    """True if `data_dir` holds no database but could: a directory without one, or a name that
    could be made one (probed with mkdir + rmdir, so a bad place like /proc/x is still refused
    by the normal open with its own message)."""
    if data_dir.is_dir():
        return not os.path.lexists(data_dir / DB_FILENAME)
    if os.path.lexists(data_dir):
        return False  # a file or a symlink where the dir should be: refused by the open
    try:
        os.mkdir(data_dir, 0o700)
        os.rmdir(data_dir)
    except OSError:
        return False
    return True


async def _export(manager: Any, args: argparse.Namespace) -> int:
    from .export import export_pages

    to_stdout = args.output in (None, "-")
    out = None if to_stdout else Path(args.output)
    session_id = await manager.store.resolve_id(args.session)
    try:
        count = await export_pages(
            manager.store, session_id, args.format, out, keep_formulas=args.keep_formulas
        )
    except OSError as exc:
        if to_stdout:
            raise StdoutFailed(exc) from None
        raise StorageUnavailable(
            f"cannot write {out}: {exc.strerror or exc}; nothing was replaced"
        ) from None
    if out is not None:
        print(f"wrote {count} pages to {display_safe(out)}", file=sys.stderr)
    return EXIT_OK


async def _run_demo(manager: Any) -> int:
    from .demo.session import demo_config, free_port

    # The same session the app's demo creates, unpaced; the manager serves its site for the run
    # (and again on `resume`, on the same port).
    session = await manager.create(demo_config(free_port(), paced=False))
    print(f"demo site at {session.target_url}", file=sys.stderr)
    return await _run_headless(manager, session.id)


# A second interrupt is a person insisting only after a human-scale gap: `timeout -s INT` and
# a terminal's Ctrl-C both signal the process *and* its group, two SIGINTs milliseconds apart.
FORCE_GAP_S = 1.0
FORCE_DB_TIMEOUT_S = 2.0


async def _run_headless(manager: Any, session_ref: str, *, as_json: bool = False) -> int:
    before = await manager.get(session_ref)
    handle = await manager.start(session_ref)
    loop = asyncio.get_running_loop()
    signals_seen: list[int] = []
    first_at: list[float] = []

    def on_signal(signum: int) -> None:
        now = time.monotonic()
        if signum == signal.SIGINT and first_at and now - first_at[0] >= FORCE_GAP_S:
            # Ctrl-C again, a second or more after the first: leave now, but never with the
            # session still `running` — settle it here, synchronously, then exit. Every commit
            # is atomic, so this loses at most the results not yet checkpointed.
            from .exit_guard import hard_exit

            hard_exit(
                EXIT_INTERRUPTED,
                db_path=manager.store.db_path,
                session_ids=[handle.session_id],
                reason="signal SIGINT again: forced exit before the final checkpoint",
                who="signal",
                # No 2 s promise here, someone is watching: wait for a busy disk a little.
                db_timeout=FORCE_DB_TIMEOUT_S,
            )
        if not first_at:
            first_at.append(now)
        signals_seen.append(signum)
        handle.interrupt(f"signal {signal.Signals(signum).name}", who="signal")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    verb = "started" if before.status is Status.PENDING else "resumed"
    print(
        f"session {handle.session_id[:8]} {verb}: {display_safe(handle.stats.target_url)}",
        file=sys.stderr,
    )
    if not as_json:
        # The id first, alone on stdout, so `id=$(tui-scraper crawl URL --headless)` works.
        _out(handle.session_id)
        _flush_stdout()
    reporter = asyncio.create_task(_report_progress(handle))
    try:
        status = await handle.wait()
    finally:
        reporter.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    _print_line(handle.stats.snapshot(), final=True)
    session = await manager.get(handle.session_id)
    _print_outcome(session, manager.data_dir, as_json=as_json)
    if signals_seen:
        return EXIT_INTERRUPTED
    if status is Status.INTERRUPTED:
        # Stopped by no signal: the disk refused a write. Resumable, but this run failed.
        return EXIT_FAILED
    return STATUS_EXIT.get(status, EXIT_FAILED)


def _print_outcome(session: SessionRecord, data_dir: Path, *, as_json: bool) -> None:
    line = f"session {session.short_id} {session.status.value}"
    if session.error:
        line += f": {session.error}"
    print(display_safe(line, 1000), file=sys.stderr)
    had_secrets = bool(session.config.extra.get("secret_header_names"))
    if session.status in RESUMABLE:
        print(f"resume it with: {resume_command(session.short_id, data_dir)}", file=sys.stderr)
        if had_secrets:
            print("its secret headers are kept until the session ends", file=sys.stderr)
    elif had_secrets:
        print(f"deleted the secret headers of session {session.short_id}", file=sys.stderr)
    if as_json:
        p = session.progress
        record = {
            "id": session.id,
            "status": session.status.value,
            "error": session.error,
            "counts": {
                "done": p.done,
                "failed": p.failed,
                "skipped": p.skipped,
                "queued": p.queued,
            },
            "bytes": p.bytes,
            "duration_s": round(p.elapsed_s, 3),
        }
        _out(json.dumps(record))


def resume_command(short_id: str, data_dir: Path) -> str:
    """The command that resumes this session, --data-dir included unless it is the default."""
    command = f"tui-scraper resume {short_id}"
    if data_dir != user_data_dir() or os.environ.get(ENV_VAR):
        command += f" --data-dir {shlex.quote(str(data_dir))}"
    return display_safe(command, 1000)


async def _report_progress(handle: Any) -> None:
    tty = sys.stderr.isatty()
    interval = 0.5 if tty else 5.0
    while True:
        await asyncio.sleep(interval)
        _print_line(handle.stats.snapshot(), final=False, tty=tty)


def _print_line(snapshot: Any, *, final: bool, tty: bool = False) -> None:
    p = snapshot.progress
    text = (
        f"done {p.done}  failed {p.failed}  skipped {p.skipped}  queued {p.queued}  "
        f"{p.bytes / 1e6:.1f} MB  {p.pages_per_s:.0f} pages/s  {p.elapsed_s:.0f} s"
    )
    for host, state in sorted(p.host_states.items()):
        text += f"  [{display_safe(host)}: {display_safe(state)}]"
    if tty and not final:
        print("\r" + text[:200].ljust(100), end="", file=sys.stderr, flush=True)
    else:
        print(("\r" if tty else "") + text, file=sys.stderr, flush=True)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _session_json(s: SessionRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": s.status.value,
        "target_url": s.target_url,
        "created_at": s.created_at,
        "start_time": s.start_time,
        "end_time": s.end_time,
        "last_updated": s.last_updated,
        "dismissed": s.dismissed_at is not None,
        "error": s.error,
        "progress": s.progress.to_dict(),
    }


def _print_sessions(sessions: list[SessionRecord], *, as_json: bool) -> int:
    if as_json:
        _out(json.dumps([_session_json(s) for s in sessions], indent=2))
        return EXIT_OK
    if not sessions:
        _out("no sessions yet — start one with: tui-scraper crawl URL --headless")
        return EXIT_OK
    _out(
        f"{'ID':8}  {'STATUS':11}  {'DONE':>6}  {'FAILED':>6}  {'QUEUED':>6}  "
        f"{'STARTED':19}  {'UPDATED':19}  TARGET"
    )
    for s in sessions:
        p = s.progress
        _out(
            f"{s.short_id:8}  {s.status.value:11}  {p.done:>6}  {p.failed:>6}  {p.queued:>6}  "
            f"{_when(s.start_time):19}  {_when(s.last_updated):19}  "
            f"{display_safe(s.target_url, 200)}"
        )
    return EXIT_OK


def _print_show(session: SessionRecord, events: list[Any], *, as_json: bool) -> int:
    if as_json:
        record = _session_json(session)
        record["config"] = json.loads(session.config.to_json())
        record["summary"] = session.summary
        record["events"] = [
            {
                "at": e.at,
                "kind": e.kind,
                "from": e.from_status.value if e.from_status else None,
                "to": e.to_status.value if e.to_status else None,
                "reason": e.reason,
                "who": e.who,
            }
            for e in events
        ]
        _out(json.dumps(record, indent=2))
        return EXIT_OK
    p = session.progress
    _out(f"session   {session.id}")
    _out(f"target    {display_safe(session.target_url, 300)}")
    error = f" ({display_safe(session.error, 300)})" if session.error else ""
    _out(f"status    {session.status.value}{error}")
    _out(f"created   {_when(session.created_at)}   updated {_when(session.last_updated)}")
    _out(
        f"progress  done {p.done}, failed {p.failed}, skipped {p.skipped}, queued {p.queued}, "
        f"{p.bytes / 1e6:.1f} MB, {p.elapsed_s:.0f} s"
    )
    _out(f"config    {session.config.to_json()}")
    if session.summary:
        _out(f"summary   {json.dumps(session.summary)}")
    _out("timeline")
    for e in events:
        change = ""
        if e.to_status is not None:
            change = f"{e.from_status.value if e.from_status else '-'} → {e.to_status.value}  "
        _out(f"  {_when(e.at)}  {change}{display_safe(e.reason, 300)}  ({e.who})")
    return EXIT_OK
