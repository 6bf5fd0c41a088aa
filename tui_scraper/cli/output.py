"""Standard streams: results on stdout (a failure there is StdoutFailed), messages on stderr."""

from __future__ import annotations

import contextlib
import errno
import os
import sys

from ..safe_text import display_safe
from .errors import StdoutFailed


def reserve_std_fds() -> None:
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


def emit(text: str = "") -> None:
    """Print a line on stdout; a failure becomes StdoutFailed, handled once in main()."""
    if sys.stdout is None:
        raise StdoutFailed(OSError(errno.EBADF, os.strerror(errno.EBADF)))
    try:
        print(text)
    except OSError as exc:
        raise StdoutFailed(exc) from None


def flush_stdout() -> None:
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except OSError as exc:
        raise StdoutFailed(exc) from None
    except ValueError:  # stdout was closed
        pass


def silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's last flush cannot fail again at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def warn(message: str) -> None:
    print(f"tui-scraper: {display_safe(message, 1000)}", file=sys.stderr)


def describe_os_error(exc: OSError) -> str:
    where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"
