"""Leave within a bound after SIGHUP, SIGTERM or the loss of the terminal, whatever else happens.

The orderly way out (interrupt the crawls, final checkpoint, restore the terminal) runs on the
event loop. A lost terminal is exactly when that loop may never run again: a write to the dead
pty fails in the UI's output thread, the main thread then blocks for good handing it more text,
and a signal handler registered with the loop is never called. So the rule here is that the
*bound* never depends on the loop: a handler that only writes one byte to a pipe, and a watchdog
thread that asks the loop for the orderly exit and, if the process is still there at the
deadline, settles its sessions itself (`store.emergency.interrupt_now`), kills its helper
processes and leaves with `os._exit`.

No Textual here: the headless CLI and any process that runs a session can use it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .domain.location import StoreLocation

SIGNAL_EXIT_CODE = 130
# From the signal to os._exit: the orderly path normally ends well before; 2 s is the promise.
DEFAULT_GRACE_S = 1.4
# Once the sessions are settled, the little the orderly path has left (restoring the terminal)
# gets this long before it is cut short.
DEFAULT_SETTLE_S = 0.4
TTY_POLL_S = 0.25
# The synchronous final transition waits at most this long for the database write lock.
EMERGENCY_DB_TIMEOUT_S = 0.2

# What a full-screen app switched on, switched off again: mouse reporting, bracketed paste, focus
# events, in-band resize, the kitty keyboard protocol, line wrap back on, then the main screen
# and the cursor. A forced exit skips the app's own teardown; the user's shell must still work.
TERMINAL_RESET = (
    b"\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[?2048l"
    b"\x1b[<u\x1b[?7h\x1b[?1049l\x1b[?25h"
)

# What the watchdog needs at a forced exit: where the store is and the sessions this process
# runs itself. Never a session a background worker runs: it is not ours to mark, it goes on.
Running = Callable[[], tuple["StoreLocation | None", list[str]]]


def _no_sessions() -> tuple[StoreLocation | None, list[str]]:
    return None, []


def descendants(pid: int | None = None) -> list[int]:
    """Every process below `pid` (default: this one), children first. Linux: from /proc."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid …": comm may hold spaces and ")", so split after the last ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def same_session(pids: Iterable[int]) -> list[int]:
    """The processes of `pids` in this process's session. A background worker is our child
    too, but it runs in a session of its own (setsid), as do its fetch workers: not ours to
    end."""
    try:
        ours = os.getsid(0)
    except OSError:
        return list(pids)
    found: list[int] = []
    for pid in pids:
        with contextlib.suppress(OSError):
            if os.getsid(pid) == ours:
                found.append(pid)
    return found


def kill_helpers() -> None:
    """SIGKILL every helper process (fetch workers, their forkserver, the resource tracker),
    never a background worker this process started (it crawls on without us).

    Before our own exit, not after: a fetch worker busy with a page would otherwise run on for
    seconds, and then die on a broken pipe with a traceback on the terminal.
    """
    pids = same_session(descendants())
    if not pids:
        with contextlib.suppress(Exception):
            import multiprocessing

            pids = same_session(
                p.pid for p in multiprocessing.active_children() if p.pid is not None
            )
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def hard_exit(
    code: int,
    *,
    location: StoreLocation | None,
    session_ids: Iterable[str],
    reason: str,
    who: str,
    db_timeout: float = EMERGENCY_DB_TIMEOUT_S,
) -> NoReturn:
    """Settle `session_ids` as interrupted in the store at `location` (the right backend's
    `interrupt_now`, waiting at most `db_timeout` for the database), kill the helpers, leave
    at once."""
    ids = list(session_ids)
    if location is not None and ids:
        from .backends.open import interrupt_now

        with contextlib.suppress(Exception):
            interrupt_now(location, ids, reason=reason, who=who, timeout=db_timeout)
    kill_helpers()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


def tty_lost(fd: int) -> bool:
    """True once the terminal behind `fd` has hung up (every call on it then fails with EIO)."""
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == 5  # EIO
    except OSError:
        return True
    return False


class ExitGuard:
    """SIGHUP/SIGTERM/lost-terminal → the orderly exit, and `os._exit` at the deadline regardless.

    `install()` as early as possible (the handlers work before any loop exists);
    `attach(request_exit, running)` once something can do the orderly exit: `request_exit(reason)`
    is called from the watchdog thread and must be thread-safe (e.g. `call_soon_threadsafe`).
    `settled()` says the sessions are safe, which shortens the rest of the wait.
    """

    def __init__(
        self,
        *,
        grace_s: float = DEFAULT_GRACE_S,
        settle_s: float = DEFAULT_SETTLE_S,
        tty_fd: int | None = None,
        signals: tuple[signal.Signals, ...] = (signal.SIGHUP, signal.SIGTERM),
        who: str = "signal",
    ) -> None:
        self.grace_s = grace_s
        self.settle_s = settle_s
        self.tty_fd = tty_fd
        self.signals = signals
        self.who = who
        self._request_exit: Callable[[str], None] | None = None
        self._running: Running = _no_sessions
        self._settled = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._previous: dict[signal.Signals, object] = {}
        self._thread: threading.Thread | None = None
        self._tty_attrs: list[Any] | None = None
        self.triggered_by: str | None = None

    def install(self) -> None:
        if self.tty_fd is not None:
            # The terminal's modes before the app changes them, to put back at a forced exit.
            with contextlib.suppress(termios.error, OSError):
                self._tty_attrs = termios.tcgetattr(self.tty_fd)
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        self._thread = threading.Thread(
            target=self._watch, name="tui-scraper-exit-guard", daemon=True
        )
        self._thread.start()

    def attach(self, request_exit: Callable[[str], None], running: Running) -> None:
        self._running = running
        self._request_exit = request_exit

    def settled(self) -> None:
        self._settled.set()

    def uninstall(self) -> None:
        """Give the signals back (the watchdog thread stays, idle, until the process ends)."""
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()

    # --- in the signal handler: nothing that takes a lock or could block -------------------
    def _on_signal(self, signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, bytes((signum,)))
        # A hangup also brings SIGCONT, and Textual answers SIGCONT by entering application mode
        # again (a new output thread, writes to the dead terminal). We are leaving: not that.
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGCONT, signal.SIG_DFL)

    # --- the watchdog thread ---------------------------------------------------------------
    def _watch(self) -> None:
        reason = self._wait_for_trigger()
        self.triggered_by = reason
        started = time.monotonic()
        deadline = started + self.grace_s
        request_exit = self._request_exit
        if request_exit is not None:
            with contextlib.suppress(Exception):
                request_exit(reason)
            if self._settled.wait(max(0.0, deadline - time.monotonic())):
                deadline = min(deadline, time.monotonic() + self.settle_s)
            time.sleep(max(0.0, deadline - time.monotonic()))
        # Still here: the orderly path is stuck (or there is none yet). Leave anyway.
        location, session_ids = _safe_running(self._running)
        self._restore_terminal()
        hard_exit(
            SIGNAL_EXIT_CODE,
            location=location,
            session_ids=session_ids,
            reason=f"{reason} (forced exit)",
            who=self.who,
        )

    def _restore_terminal(self) -> None:
        """Best effort, never blocking: a dead terminal fails with EIO, a stuck one (XOFF)
        would block a plain write, so the write is non-blocking and may be cut short. The
        flag is put back: the file description is the shell's too."""
        fd = self.tty_fd
        if fd is None:
            return
        with contextlib.suppress(OSError):
            was_blocking = os.get_blocking(fd)
            os.set_blocking(fd, False)
            try:
                os.write(fd, TERMINAL_RESET)
            finally:
                os.set_blocking(fd, was_blocking)
        if self._tty_attrs is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(fd, termios.TCSANOW, self._tty_attrs)

    def _wait_for_trigger(self) -> str:
        timeout = TTY_POLL_S if self.tty_fd is not None else None
        while True:
            ready, _, _ = select.select([self._wake_r], [], [], timeout)
            if ready:
                data = os.read(self._wake_r, 16)
                if data:
                    with contextlib.suppress(ValueError):
                        return f"{signal.Signals(data[0]).name} received"
                    return "signal received"
            if self.tty_fd is not None and tty_lost(self.tty_fd):
                return "the terminal was closed"


def _safe_running(running: Running) -> tuple[StoreLocation | None, list[str]]:
    try:
        return running()
    except Exception:  # the watchdog must reach os._exit whatever state the app is in
        return None, []
