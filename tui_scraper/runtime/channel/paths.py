"""Where a session's live channel socket lives: `run/<session-id>.sock` in the data dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from tui_scraper.domain.errors import ScraperError
from tui_scraper.domain.ids import is_session_id
from tui_scraper.paths import mkdir_private

RUN_DIR: Final = "run"
SOCKET_SUFFIX: Final = ".sock"
# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES: Final = 107


class ChannelError(ScraperError):
    """The live channel cannot be set up or used; the message is one line fit for stderr."""


def run_dir(data_dir: Path) -> Path:
    return Path(data_dir) / RUN_DIR


def socket_path(data_dir: Path, session_id: str) -> Path:
    """The socket of one session. Refuses a malformed id (it would name some other file) and a
    path too long for AF_UNIX, which bind() would otherwise reject with a bare EINVAL."""
    if not is_session_id(session_id):
        raise ChannelError(f"{session_id!r} is not a session id")
    path = run_dir(data_dir) / f"{session_id}{SOCKET_SUFFIX}"
    check_socket_path(path)
    return path


def check_socket_path(path: Path) -> Path:
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
        raise ChannelError(
            f"{path}: a Unix socket path can be at most {MAX_SOCKET_PATH_BYTES} bytes; this one "
            f"is {size}. Use a data directory with a shorter path (--data-dir)."
        )
    return path


def ensure_run_dir(path: Path) -> Path:
    """Create the socket directory 0700 if it is missing (again: a user may `rm -rf` it while a
    worker runs). Anything but a real directory there is refused, a symlink included."""
    try:
        mkdir_private(path)
        info = os.lstat(path)
    except OSError as exc:
        raise ChannelError(f"{path}: cannot create it: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ChannelError(f"{path}: is not a directory")
    return path
