"""The commands that run a crawl: crawl, resume, demo (headless, or handed to the app)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ..backends.sqlite.secrets import delete_secret_headers, secrets_problem
from ..domain.ids import is_session_ref
from ..domain.records import SessionRecord
from ..domain.status import RESUMABLE, Status
from ..formatting import human_bytes, human_duration, human_rate
from ..paths import ENV_VAR, user_data_dir
from ..safe_text import display_safe
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, STATUS_EXIT, BadInput
from .output import emit, flush_stdout, warn


def run_ui(data_dir: Path, args: argparse.Namespace | None = None) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # The app would draw its escape codes into the file or pipe stdout points at.
        raise BadInput("the terminal app needs a terminal; use --headless in scripts")
    from ..ui.app import run_app  # Textual is imported only when the UI runs

    if args is None:
        return run_app(data_dir)
    if args.command == "demo":
        return run_app(data_dir, demo=True)
    if args.command == "crawl":
        return run_app(data_dir, new_config=args.config, new_secrets=args.secrets)
    return run_app(data_dir, resume=args.session)


async def resumable_id(data_dir: Path, args: argparse.Namespace) -> str:
    """The full id of the session `resume` names, checked read-only (creates nothing)."""
    from ..backends.sqlite import Store

    store = await Store.open(data_dir, readonly=True)
    try:
        session = await store.get_session(await store.resolve_id(check_session_ref(args.session)))
    finally:
        await store.close()
    check_resumable(session, data_dir, without_secrets=args.without_secrets)
    return session.id


def check_session_ref(ref: str) -> str:
    if not is_session_ref(ref.strip()):
        raise BadInput(f"{display_safe(ref, 60)!r} is not a session id (hex digits, see sessions)")
    return ref.strip()


def check_resumable(session: SessionRecord, data_dir: Path, *, without_secrets: bool) -> None:
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
    warn(f"resuming {session.short_id} without its secret headers ({', '.join(names)})")


async def run_demo(manager: Any) -> int:
    from ..demo.session import demo_config, free_port

    # The same session the app's demo creates, unpaced; the manager serves its site for the run
    # (and again on `resume`, on the same port).
    session = await manager.create(demo_config(free_port(), paced=False))
    print(f"demo site at {session.target_url}", file=sys.stderr)
    return await run_headless(manager, session.id)


# A second interrupt is a person insisting only after a human-scale gap: `timeout -s INT` and
# a terminal's Ctrl-C both signal the process *and* its group, two SIGINTs milliseconds apart.
FORCE_GAP_S = 1.0


FORCE_DB_TIMEOUT_S = 2.0


async def run_headless(manager: Any, session_ref: str, *, as_json: bool = False) -> int:
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
            from ..exit_guard import hard_exit

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
        emit(handle.session_id)
        flush_stdout()
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
        emit(json.dumps(record))


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
        f"{human_bytes(p.bytes)}  {human_rate(p.pages_per_s)}  {human_duration(p.elapsed_s)}"
    )
    for host, state in sorted(p.host_states.items()):
        text += f"  [{display_safe(host)}: {display_safe(state)}]"
    if tty and not final:
        print("\r" + text[:200].ljust(100), end="", file=sys.stderr, flush=True)
    else:
        print(("\r" if tty else "") + text, file=sys.stderr, flush=True)
