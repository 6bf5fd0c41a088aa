"""Command line: the headless engine and the session history; the TUI is imported lazily.

Exit codes (DESIGN.md): 0 completed, 1 failed, 2 bad input, 130 interrupted by a signal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .paths import resolve_data_dir
from .safe_text import display_safe
from .session.config import CrawlConfig, ExtractRule
from .session.errors import ScraperError
from .session.records import SessionRecord
from .session.status import Status
from .store.db import StorageUnavailable

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
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


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="where sessions are stored (default: $TUI_SCRAPER_DATA_DIR or the user data dir)",
    )


def _add_crawl_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("crawl options")
    g.add_argument("--max-pages", type=int, help="stop after this many pages in total")
    g.add_argument("--max-depth", type=int, help="follow links at most this many hops deep")
    g.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    g.add_argument(
        "--per-host", type=int, default=4, help="requests in flight per host (default 4)"
    )
    g.add_argument("--rate", type=float, help="at most N requests per second per host")
    g.add_argument(
        "--scope",
        choices=("host", "domain", "any"),
        default="host",
        help="which links to follow (default: same host)",
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
        help="also store files of these types, e.g. 'image/*,application/pdf'",
    )
    g.add_argument("--retries", type=int, default=3, help="retries of transient failures")
    g.add_argument("--timeout", type=float, default=30.0, help="overall deadline per request (s)")
    g.add_argument(
        "--max-body",
        type=int,
        default=10 * 1024 * 1024,
        help="largest body stored, in bytes after decompression",
    )
    g.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private/loopback addresses even if the start URL is public",
    )
    g.add_argument("--user-agent", default=None, help="User-Agent header")
    g.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header, sent only to the start URL's origin and never "
        "stored in the database (e.g. Authorization); repeatable",
    )
    g.add_argument(
        "--cookie",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="cookie sent only to the start URL's origin; repeatable",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tui-scraper",
        description="Web crawls as durable sessions. With no command, opens the terminal app "
        "(the recovery screen first if a crawl was interrupted).",
    )
    parser.add_argument("--version", action="version", version=f"tui-scraper {__version__}")
    _add_data_dir(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    crawl = sub.add_parser(
        "crawl", help="start a new crawl session", description="Start a crawl session of URL."
    )
    crawl.add_argument("url")
    crawl.add_argument("--headless", action="store_true", help="no UI: print progress lines")
    _add_crawl_options(crawl)
    _add_data_dir(crawl)

    resume = sub.add_parser("resume", help="resume a paused or interrupted session")
    resume.add_argument("session", help="session id (a unique prefix is enough)")
    resume.add_argument("--headless", action="store_true", help="no UI: print progress lines")
    _add_data_dir(resume)

    demo = sub.add_parser("demo", help="crawl the built-in demo site (no network needed)")
    demo.add_argument("--headless", action="store_true", help="no UI: print progress lines")
    _add_data_dir(demo)

    sessions = sub.add_parser("sessions", help="list every session")
    sessions.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_dir(sessions)

    show = sub.add_parser("show", help="one session: config, progress, timeline")
    show.add_argument("session")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_dir(show)

    dismiss = sub.add_parser("dismiss", help="hide an interrupted/paused session from recovery")
    dismiss.add_argument("session")
    _add_data_dir(dismiss)

    export = sub.add_parser("export", help="write a session's pages as JSON Lines or CSV")
    export.add_argument("session")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    _add_data_dir(export)
    return parser


def secret_headers_from_args(args: argparse.Namespace) -> dict[str, str]:
    headers: dict[str, str] = {}
    for spec in args.header:
        name, sep, value = spec.partition(":")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name) or "\n" in value:
            raise BadInput(f"--header {name or spec!r}: expected 'NAME: VALUE'")
        headers[name] = value.strip()
    cookies = []
    for spec in args.cookie:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or any(c in spec for c in ";\r\n"):
            raise BadInput(f"--cookie {name.strip() or spec!r}: expected NAME=VALUE")
        cookies.append(f"{name.strip()}={value.strip()}")
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    return headers


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
        **({"user_agent": args.user_agent} if args.user_agent else {}),
    )
    config.validate()
    from .crawl.extract import validate_rules

    validate_rules(config.extract)
    return config


# ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        data_dir = resolve_data_dir(getattr(args, "data_dir", None))
        _check_chosen_data_dir(data_dir, chosen=bool(getattr(args, "data_dir", None)))
        if args.command == "crawl":
            # Every option is checked before the data dir is touched: bad input creates nothing.
            args.config = config_from_args(args)
            args.secrets = secret_headers_from_args(args)
        if args.command is None:
            return _run_ui(data_dir)
        if args.command in ("crawl", "resume", "demo") and not args.headless:
            return _run_ui(data_dir, args=args)
        return asyncio.run(_dispatch(args, data_dir))
    except StorageUnavailable as exc:
        # The disk refused a write (full, I/O error): not bad input. Committed data is intact.
        _error(str(exc))
        return EXIT_FAILED
    except (BadInput, ScraperError) as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _check_chosen_data_dir(data_dir: Path, *, chosen: bool) -> None:
    """A data dir the user named may be created, but not its parents: a missing parent is most
    likely a typo or a disk that is not mounted, and a tree made there would hide the mistake."""
    chosen = chosen or bool(os.environ.get("TUI_SCRAPER_DATA_DIR"))
    if chosen and not data_dir.exists() and not data_dir.parent.is_dir():
        raise BadInput(f"data dir {data_dir}: {data_dir.parent} does not exist (create it first)")


def _error(message: str) -> None:
    print(f"tui-scraper: {display_safe(message, 1000)}", file=sys.stderr)


def _run_ui(data_dir: Path, args: argparse.Namespace | None = None) -> int:
    from .ui.app import run_app  # Textual is imported only when the UI runs

    if args is None:
        return run_app(data_dir)
    if args.command == "demo":
        return run_app(data_dir, demo=True)
    if args.command == "crawl":
        return run_app(data_dir, new_config=args.config, new_secrets=args.secrets)
    return run_app(data_dir, resume=args.session)


async def _dispatch(args: argparse.Namespace, data_dir: Path) -> int:
    from .manager import SessionManager

    manager = await SessionManager.open(data_dir, who="cli")
    try:
        if args.command == "crawl":
            session = await manager.create(args.config, secret_headers=args.secrets)
            return await _run_headless(manager, session.id)
        if args.command == "resume":
            return await _run_headless(manager, args.session)
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
            print(f"dismissed {session.short_id} ({session.status.value}); it can still be resumed")
            return EXIT_OK
        if args.command == "export":
            out = Path(args.output) if args.output else None
            count = await manager.export(args.session, args.format, out)
            if out is not None:
                print(f"wrote {count} pages to {out}", file=sys.stderr)
            return EXIT_OK
        raise BadInput(f"unknown command {args.command}")
    finally:
        await asyncio.wait_for(manager.close(), 30)


async def _run_demo(manager: Any) -> int:
    from .demo import DemoServer

    server = DemoServer()
    base_url = await server.start()
    try:
        config = CrawlConfig(target_url=base_url, download=("image/*", "application/pdf"))
        session = await manager.create(config)
        print(f"demo site at {base_url}", file=sys.stderr)
        return await _run_headless(manager, session.id)
    finally:
        await server.stop()


async def _run_headless(manager: Any, session_ref: str) -> int:
    handle = await manager.start(session_ref)
    loop = asyncio.get_running_loop()
    signals_seen: list[int] = []

    def on_signal(signum: int) -> None:
        if signum == signal.SIGINT and signal.SIGINT in signals_seen:
            # Second Ctrl-C: leave now. Every commit is atomic, so this loses at most the
            # results not yet checkpointed; the next start marks the session interrupted.
            os._exit(EXIT_INTERRUPTED)
        signals_seen.append(signum)
        handle.interrupt(f"signal {signal.Signals(signum).name}", who="signal")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    print(
        f"session {handle.session_id[:8]} started: {display_safe(handle.stats.target_url)}",
        file=sys.stderr,
    )
    reporter = asyncio.create_task(_report_progress(handle))
    try:
        status = await handle.wait()
    finally:
        reporter.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    _print_line(handle.stats.snapshot(), final=True)
    session = await manager.get(handle.session_id)
    line = f"session {session.short_id} {session.status.value}"
    if session.error:
        line += f": {session.error}"
    print(display_safe(line, 1000), file=sys.stderr)
    if signals_seen:
        return EXIT_INTERRUPTED
    if status is Status.INTERRUPTED:
        # Stopped by no signal: the disk refused a write. Resumable, but this run failed.
        return EXIT_FAILED
    return STATUS_EXIT.get(status, EXIT_FAILED)


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
        print(json.dumps([_session_json(s) for s in sessions], indent=2))
        return EXIT_OK
    if not sessions:
        print("no sessions yet — start one with: tui-scraper crawl URL --headless")
        return EXIT_OK
    print(
        f"{'ID':8}  {'STATUS':11}  {'DONE':>6}  {'FAILED':>6}  {'QUEUED':>6}  "
        f"{'STARTED':19}  {'UPDATED':19}  TARGET"
    )
    for s in sessions:
        p = s.progress
        print(
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
        print(json.dumps(record, indent=2))
        return EXIT_OK
    p = session.progress
    print(f"session   {session.id}")
    print(f"target    {display_safe(session.target_url, 300)}")
    print(f"status    {session.status.value}" + (f" ({session.error})" if session.error else ""))
    print(f"created   {_when(session.created_at)}   updated {_when(session.last_updated)}")
    print(
        f"progress  done {p.done}, failed {p.failed}, skipped {p.skipped}, queued {p.queued}, "
        f"{p.bytes / 1e6:.1f} MB, {p.elapsed_s:.0f} s"
    )
    print(f"config    {session.config.to_json()}")
    if session.summary:
        print(f"summary   {json.dumps(session.summary)}")
    print("timeline")
    for e in events:
        change = ""
        if e.to_status is not None:
            change = f"{e.from_status.value if e.from_status else '-'} → {e.to_status.value}  "
        print(f"  {_when(e.at)}  {change}{display_safe(e.reason, 300)}  ({e.who})")
    return EXIT_OK
