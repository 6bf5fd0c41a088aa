"""The argument parser; crawl option defaults come from CrawlConfig itself, never copied."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from .. import __version__
from ..domain.config import SCOPES, CrawlConfig
from ..paths import user_data_dir
from ..safe_text import display_safe
from .errors import BadInput
from .stats_cmd import add_stats_command


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


DB_HELP = (
    "the database that holds the sessions: postgresql://USER@HOST[:PORT]/DBNAME for "
    "PostgreSQL, or sqlite:DIR for the SQLite database in data dir DIR (as --data-dir DIR). "
    "Default: $TUI_SCRAPER_DB, else SQLite in the data dir. Logs, sockets and secret headers "
    "stay in the data dir either way. The command line is visible to every user in `ps`: keep "
    "a password in TUI_SCRAPER_DB, ~/.pgpass or PGPASSWORD instead; it is shown as *** "
    "wherever the URL is shown"
)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    """The options that say where the store is, on the program and on every command."""
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="where sessions are stored (default: $TUI_SCRAPER_DATA_DIR, else "
        f"{display_safe(user_data_dir())})",
    )
    parser.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=DB_HELP)


# Every crawl option's default is read from CrawlConfig, so the parser cannot drift from it.
_DEFAULTS = CrawlConfig(target_url="http://x/")


def _limit(value: object) -> str:
    """A default that may be "no limit" (None), for a help text."""
    return "no limit" if value is None else str(value)


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
    g = parser.add_argument_group("crawl options")
    g.add_argument(
        "--warc",
        metavar="FILE",
        help="also write the crawl as WARC 1.1 to FILE (new; gzipped per record) as pages "
        "commit; a resume appends to it",
    )
    g.add_argument(
        "--max-pages",
        type=int,
        default=_DEFAULTS.max_pages,
        help=f"stop after this many pages (default: {_limit(_DEFAULTS.max_pages)})",
    )
    g.add_argument(
        "--max-depth",
        type=int,
        default=_DEFAULTS.max_depth,
        help=f"follow links at most this many hops deep (default: {_limit(_DEFAULTS.max_depth)})",
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
        default=_DEFAULTS.rate_per_host,
        help="at most N requests per second per host, 0.01 to 1000 "
        f"(default: {_limit(_DEFAULTS.rate_per_host)})",
    )
    g.add_argument(
        "--scope",
        choices=SCOPES,
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
        default=_DEFAULTS.trap_max_per_pattern,
        metavar="N",
        help="trap guard: at most N URLs of one shape, digits aside, e.g. /cal?day=N (0: no limit)",
    )
    g.add_argument(
        "--max-param-values",
        type=int,
        default=_DEFAULTS.trap_max_param_values,
        metavar="N",
        help="trap guard: at most N distinct values of one query parameter per host (0: no limit)",
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
    "(id, status, counts, duration_s) instead of the bare id; with --detach: the session "
    "record as `show --json` prints it"
)


DETACH_HELP = (
    "run the crawl in a background worker process that outlives this terminal (closing it, "
    "Ctrl-C or logging out do not stop it): prints the session id and returns once the worker "
    "runs. Its log is logs/<id>.log in the data dir; stop it with `pause ID` or `cancel ID`"
)


ATTACH_HELP = (
    "Open the app on the live screen of a session that runs in a background worker (started "
    "with --detach, or from the app): its counters, recent pages and errors as they come, "
    "over the worker's live channel. Escape goes back to the sessions list, and quitting the "
    "app leaves the crawl running. Several terminals may attach to one crawl at once. If the "
    "channel is lost (the worker is stopped for a while, its socket removed), the screen says "
    "'reconnecting in N s' and comes back by itself; a worker that died shows the session "
    "interrupted, and p resumes it. A session that is not running is refused (exit 2)."
)


def _add_run_mode(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--headless",
        action="store_true",
        help="no UI: progress lines on stderr, the session id on stdout",
    )
    mode.add_argument("--detach", action="store_true", help=DETACH_HELP)


def _add_worker_command(sub: Any, name: str, what: str, sub_kw: dict[str, Any]) -> None:
    parser = sub.add_parser(
        name,
        **sub_kw,
        help=f"{name} a running session ({what})",
        description=f"{name.capitalize()} a running session: {what}. The command goes to its "
        "worker over the worker's live channel; if that cannot be reached, it is recorded in "
        "the data dir and the worker applies it within a second. The output says which. "
        "A session that is not running is refused (exit 2).",
    )
    parser.add_argument("session", help=SESSION_HELP)
    _add_data_dir(parser)


def _add_set_command(sub: Any, sub_kw: dict[str, Any]) -> None:
    tune = sub.add_parser(
        "set",
        **sub_kw,
        help="change the rate, concurrency or exclude patterns of a running session",
        description="Live tuning: change a running crawl's rate, concurrency or exclude "
        "patterns. It takes effect within a second, is recorded in the session's timeline and "
        "kept in its config, so a resume crawls with it. The change goes to its worker over the "
        "live channel; if that cannot be reached, it is recorded in the data dir and the worker "
        "applies it within a second. The output says which, and what now applies. A session "
        "that is not running is refused (exit 2), and so is a bad value (nothing is recorded).",
    )
    tune.add_argument("session", help=SESSION_HELP)
    tune.add_argument(
        "--rate",
        type=float,
        metavar="N",
        help="at most N requests per second per host, 0.01 to 1000, for every host from now on",
    )
    tune.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="requests in flight for the whole crawl; when lowered, requests in flight finish "
        "and no new one starts above N",
    )
    tune.add_argument(
        "--exclude",
        action="append",
        metavar="REGEX",
        help="also exclude URLs matching REGEX (repeatable): added to the session's current "
        "exclude patterns; applies to links found from now on and to queued URLs not yet "
        "fetched (skipped as excluded)",
    )
    tune.add_argument(
        "--no-exclude",
        action="store_true",
        help="clear the session's exclude patterns first (alone: remove them all; with "
        "--exclude: replace them by the ones given)",
    )
    tune.add_argument(
        "--json",
        action="store_true",
        help="print one JSON record: session, sent, via, control_id, outcome, applied",
    )
    _add_data_dir(tune)


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
    _add_run_mode(crawl)
    crawl.add_argument("--json", action="store_true", help=JSON_HELP)
    _add_crawl_options(crawl)
    _add_data_dir(crawl)

    resume = sub.add_parser("resume", **sub_kw, help="resume a paused or interrupted session")
    resume.add_argument("session", help=SESSION_HELP)
    _add_run_mode(resume)
    resume.add_argument("--json", action="store_true", help=JSON_HELP)
    resume.add_argument(
        "--without-secrets",
        action="store_true",
        help="resume even though the secret headers this session was started with are missing "
        "or damaged; they are then not sent",
    )
    _add_data_dir(resume)

    attach = sub.add_parser(
        "attach",
        **sub_kw,
        help="open the live screen of a session running in the background",
        description=ATTACH_HELP,
    )
    attach.add_argument("session", help=SESSION_HELP)
    _add_data_dir(attach)

    _add_worker_command(sub, "pause", "checkpoint and stop; resume it later", sub_kw)
    _add_worker_command(sub, "cancel", "stop for good, recorded as failed", sub_kw)
    _add_set_command(sub, sub_kw)

    worker = sub.add_parser(
        "worker",
        **sub_kw,
        help="one more worker for the running sessions of a PostgreSQL database",
        description="Join the running sessions of the database --db names (PostgreSQL only: "
        "a SQLite session has one worker) and crawl from their shared frontier beside their "
        "other workers, on this machine or any other, until no running session has work left; "
        "then exit 0. --session joins one session only (an id or a unique prefix). Progress "
        "lines go to stderr as with crawl --headless. Ctrl-C or SIGTERM stops this worker "
        "only: its last results are checkpointed, its claims go back to the queue, the "
        "sessions keep running for the others (exit 130). Per-host concurrency and --rate "
        "hold per worker.",
    )
    worker.add_argument("--session", metavar="ID", help="join only this running session")
    _add_data_dir(worker)

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

    add_stats_command(sub, sub_kw, _add_data_dir)

    dismiss = sub.add_parser(
        "dismiss", **sub_kw, help="hide an interrupted/paused session from recovery"
    )
    dismiss.add_argument("session", help=SESSION_HELP)
    _add_data_dir(dismiss)

    export = sub.add_parser(
        "export", **sub_kw, help="write a session's pages as JSON Lines, CSV or WARC"
    )
    export.add_argument("session", help=SESSION_HELP)
    export.add_argument(
        "--format",
        choices=("jsonl", "csv", "warc"),
        default="jsonl",
        help="file format (warc: WARC 1.1, gzipped per record; needs -o FILE)",
    )
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

    recrawl = sub.add_parser(
        "recrawl",
        **sub_kw,
        help="crawl a finished session's target again, asking only for what changed",
        description="Start a new session on the same target and config as SESSION (a completed "
        "or failed one) that sends conditional requests (If-None-Match, If-Modified-Since) for "
        "every page SESSION stored with an ETag or Last-Modified. A page that answers 304 is "
        "recorded as unchanged (http_status 304), points at the content stored before, and its "
        "links are followed as before; a page that answers 200 is stored as usual. Compare the "
        "two with `diff SESSION NEW`.",
    )
    recrawl.add_argument("session", help=SESSION_HELP)
    recrawl.add_argument(
        "--warc",
        metavar="FILE",
        help="also write the recrawl as WARC 1.1 to FILE (new) as pages commit; a 304 is a "
        "revisit naming the earlier capture",
    )
    _add_run_mode(recrawl)
    recrawl.add_argument("--json", action="store_true", help=JSON_HELP)
    _add_data_dir(recrawl)

    diff = sub.add_parser(
        "diff",
        **sub_kw,
        help="what changed between two sessions: pages added, removed, changed",
        description="Compare session A (before) with session B (after), page by page (by URL): "
        "added (stored in B, not in A), removed (stored in A, missing or failing in B), "
        "changed (stored in both, content differs), unchanged (a count), and status changes "
        "(a 304 counts as the 200 it stands for). Reads only.",
    )
    diff.add_argument("a", metavar="A", help="the earlier session (id or unique prefix)")
    diff.add_argument("b", metavar="B", help="the later session (id or unique prefix)")
    diff.add_argument(
        "--json", action="store_true", help="one JSON object: the URLs of each kind, counts"
    )
    diff.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        help="write one row per page that differs (kind, url, statuses, hashes) instead",
    )
    diff.add_argument(
        "-o", "--output", metavar="PATH", help="with --format: where to write (default: stdout)"
    )
    _add_data_dir(diff)
    from .queue_cmd import add_queue_parser
    from .schedule_cmd import add_schedule_parser
    from .service_cmd import add_service_parser

    add_queue_parser(sub, sub_kw)
    add_schedule_parser(sub, sub_kw)
    add_service_parser(sub, sub_kw)
    return parser
