"""Exit codes and the two errors the command line turns into exit codes of its own."""

from __future__ import annotations

import errno
import signal

from ..domain.status import Status

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for a tool killed by SIGPIPE


# errnos that mean "the disk", not "what you typed": exit 1 like StorageUnavailable.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


STATUS_EXIT = {
    Status.COMPLETED: EXIT_OK,
    # This worker's part is done and other workers of the session (PostgreSQL) finish it.
    Status.RUNNING: EXIT_OK,
    Status.FAILED: EXIT_FAILED,
    Status.INTERRUPTED: EXIT_INTERRUPTED,
    Status.PAUSED: EXIT_INTERRUPTED,
}


class BadInput(Exception):
    """A problem with what the user typed; printed as one line, exit 2."""


class StdoutFailed(Exception):
    """Standard output refused a write (reader gone, disk full)."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror)
        self.errno = exc.errno
        self.strerror = exc.strerror or str(exc)
