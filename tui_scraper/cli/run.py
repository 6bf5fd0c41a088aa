"""The commands that run a crawl: crawl, resume, demo (headless, or handed to the app)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
import time

from ..domain.ids import is_session_ref
from ..domain.location import StoreLocation
from ..domain.progress import Progress
from ..domain.records import SessionRecord
from ..domain.status import RESUMABLE, Status
from ..formatting import human_bytes, human_duration, human_rate
from ..safe_text import display_safe
from ..service import SessionService
from .datadir import resume_command
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, STATUS_EXIT, BadInput
from .output import emit, flush_stdout, warn


def run_ui(location: StoreLocation, args: argparse.Namespace | None = None) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # The app would draw its escape codes into the file or pipe stdout points at.
        raise BadInput("the terminal app needs a terminal; use --headless in scripts")
    from ..ui.app import run_app  # Textual is imported only when the UI runs

    if args is None:
        return run_app(location)
    if args.command == "demo":
        return run_app(location, demo=True)
    if args.command == "crawl":
        return run_app(location, new_config=args.config, new_secrets=args.secrets)
    if args.command == "attach":
        return run_app(location, attach=args.session)
    return run_app(location, resume=args.session)


async def resumable_id(location: StoreLocation, args: argparse.Namespace) -> str:
    """The full id of the session `resume` names, checked read-only (creates nothing)."""
    from ..service.local import LocalSessionService

    service = await LocalSessionService.open(location, who="cli", readonly=True)
    try:
        session = await service.get(check_session_ref(args.session))
        await check_resumable(service, session, without_secrets=args.without_secrets)
    finally:
        await service.close()
    return session.id


def check_session_ref(ref: str) -> str:
    if not is_session_ref(ref.strip()):
        raise BadInput(f"{display_safe(ref, 60)!r} is not a session id (hex digits, see sessions)")
    return ref.strip()


async def check_resumable(
    service: SessionService, session: SessionRecord, *, without_secrets: bool
) -> None:
    """Refuse a resume that cannot do what the first run did: a final session, or one whose
    secret headers are gone (its requests would silently go out without Authorization)."""
    if session.status not in RESUMABLE:
        raise BadInput(
            f"session {session.short_id} is {session.status.value}; "
            "only paused or interrupted sessions can be resumed"
        )
    problem = await service.secrets_problem(session)
    if problem is None:
        return
    names = ", ".join(str(n) for n in session.config.extra.get("secret_header_names") or [])
    if not without_secrets:
        raise BadInput(
            f"session {session.short_id} was started with secret headers "
            f"({names}) but {problem}; add --without-secrets to resume without them"
        )
    with contextlib.suppress(OSError):
        # Told to go on without them: a damaged file would otherwise fail the start.
        await service.forget_secrets(session.id)
    warn(f"resuming {session.short_id} without its secret headers ({names})")


async def run_demo(service: SessionService) -> int:
    from ..demo.session import demo_config, free_port

    # The same session the app's demo creates, unpaced; the service serves its site for the run
    # (and again on `resume`, on the same port).
    session = await service.create(demo_config(free_port(), paced=False))
    print(f"demo site at {session.target_url}", file=sys.stderr)
    return await run_headless(service, session.id)


# A second interrupt is a person insisting only after a human-scale gap: `timeout -s INT` and
# a terminal's Ctrl-C both signal the process *and* its group, two SIGINTs milliseconds apart.
FORCE_GAP_S = 1.0


FORCE_DB_TIMEOUT_S = 2.0


def _force_exit(location: StoreLocation, session_id: str) -> None:
    from ..exit_guard import hard_exit

    hard_exit(
        EXIT_INTERRUPTED,
        location=location,
        session_ids=[session_id],
        reason="signal SIGINT again: forced exit before the final checkpoint",
        who="signal",
        # No 2 s promise here, someone is watching: wait for a busy disk a little.
        db_timeout=FORCE_DB_TIMEOUT_S,
    )


async def run_headless(service: SessionService, session_ref: str, *, as_json: bool = False) -> int:
    before = await service.get(session_ref)
    session_id = await service.start(session_ref)
    loop = asyncio.get_running_loop()
    signals_seen: list[int] = []
    first_at: list[float] = []
    forcing: list[float] = []

    def on_signal(signum: int) -> None:
        now = time.monotonic()
        if signum == signal.SIGINT and first_at and now - first_at[0] >= FORCE_GAP_S:
            # Ctrl-C again, a second or more after the first: leave now, but never with the
            # session still `running` — settle it, then exit. Every commit is atomic, so this
            # loses at most the results not yet checkpointed.
            if not forcing:
                forcing.append(now)
                # From a thread, not here on the loop: our own writer may be the next to get the
                # database lock, mid-way through its final checkpoint, and each of its statements
                # is sent by this loop. Blocking the loop would leave it holding the lock the
                # forced exit waits for; with the loop free, it commits and the exit goes next.
                threading.Thread(
                    target=_force_exit, args=(service.location, session_id), daemon=True
                ).start()
            return
        if not first_at:
            first_at.append(now)
        signals_seen.append(signum)
        service.interrupt(session_id, f"signal {signal.Signals(signum).name}", who="signal")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    verb = "started" if before.status is Status.PENDING else "resumed"
    print(f"session {session_id[:8]} {verb}: {display_safe(before.target_url)}", file=sys.stderr)
    if not as_json:
        # The id first, alone on stdout, so `id=$(tui-scraper crawl URL --headless)` works.
        emit(session_id)
        flush_stdout()
    reporter = asyncio.create_task(_report_progress(service, session_id))
    try:
        status = await service.wait(session_id)
    finally:
        reporter.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    final = service.latest(session_id)  # the service keeps the last sample of a crawl it ran
    if final is not None:
        _print_line(final.progress, final=True)
    session = await service.get(session_id)
    if status is None:
        # Nothing ran here any more by the time we asked: the stored record says how it ended.
        status = session.status
    _print_outcome(session, service.location, as_json=as_json)
    if signals_seen:
        return EXIT_INTERRUPTED
    if status is Status.INTERRUPTED:
        # Stopped by no signal: the disk refused a write. Resumable, but this run failed.
        return EXIT_FAILED
    return STATUS_EXIT.get(status, EXIT_FAILED)


def _print_outcome(session: SessionRecord, location: StoreLocation, *, as_json: bool) -> None:
    line = f"session {session.short_id} {session.status.value}"
    if session.status is Status.RUNNING:
        line += " (this process's part is done; its other workers finish it)"
    if session.error:
        line += f": {session.error}"
    print(display_safe(line, 1000), file=sys.stderr)
    had_secrets = bool(session.config.extra.get("secret_header_names"))
    if session.status in RESUMABLE:
        print(f"resume it with: {resume_command(session.short_id, location)}", file=sys.stderr)
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


async def _report_progress(service: SessionService, session_id: str) -> None:
    tty = sys.stderr.isatty()
    interval = 0.5 if tty else 5.0
    started = time.monotonic()
    async for snapshot in service.watch(session_id, hz=1.0 / interval):
        if time.monotonic() - started < interval:
            continue  # the first line comes after one interval, not at once
        _print_line(snapshot.progress, final=False, tty=tty)


def print_progress_line(p: Progress, *, prefix: str = "") -> None:
    """One progress line on stderr, as `crawl --headless` prints them to a pipe."""
    _print_line(p, final=True, prefix=prefix)


def _print_line(p: Progress, *, final: bool, tty: bool = False, prefix: str = "") -> None:
    text = prefix + (
        f"done {p.done}  failed {p.failed}  skipped {p.skipped}  queued {p.queued}  "
        f"{human_bytes(p.bytes)}  {human_rate(p.pages_per_s)}  {human_duration(p.elapsed_s)}"
    )
    for host, state in sorted(p.host_states.items()):
        text += f"  [{display_safe(host)}: {display_safe(state)}]"
    if tty and not final:
        print("\r" + text[:200].ljust(100), end="", file=sys.stderr, flush=True)
    else:
        print(("\r" if tty else "") + text, file=sys.stderr, flush=True)
