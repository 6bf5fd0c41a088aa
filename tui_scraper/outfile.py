"""Open the file an export writes to, without ever replacing what is not ours to replace.

Two kinds of target, two ways of writing:
- anything that is not a regular file (a terminal, a FIFO, /dev/null, /dev/stdout, /dev/fd/N,
  a character device) is a *stream*: it is opened as it is and written in place. Replacing it
  by rename would turn /dev/null into a regular file, cut a FIFO's reader off, or swap the
  /dev/stdout symlink for a file;
- a regular file (or a name that does not exist yet) is replaced *atomically*: the rows go to a
  temp file created exclusively (O_EXCL, O_NOFOLLOW, random name) in the target's directory, so
  nobody can plant a symlink at its name; it gets the old file's mode, is fsynced and renamed over
  the target. A failure leaves the old file exactly as it was.

A temp file holds an flock while it is written. A process killed mid-export leaves its temp file
behind with the lock gone, so the next export to the same target removes it; a temp file of an
export still running elsewhere is locked and left alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from .domain.errors import ConfigError

TMP_SUFFIX = ".tui-scraper-tmp"
_FD_LINK = re.compile(r"^/(?:dev|proc/(self|thread-self|\d+))/fd/(\d+)$")
_MAX_HOPS = 40
_CREATE_TRIES = 5


class OutputFile:
    """A writable binary stream; `commit()` makes the written bytes the target's content."""

    def __init__(self, target: Path, handle: BinaryIO, tmp: Path | None, fd: int) -> None:
        self.target = target
        self.handle = handle
        self._tmp = tmp
        self._fd = fd

    @property
    def is_terminal(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def commit(self) -> None:
        self.handle.flush()
        if self._tmp is None:
            return
        os.fsync(self._fd)
        os.replace(self._tmp, self.target)
        self._tmp = None
        _fsync_dir(self.target.parent)

    def close(self) -> None:
        """Close; if `commit()` did not run, the temp file goes and the target is untouched."""
        try:
            with contextlib.suppress(OSError):  # a full disk fails the last flush; nothing lost
                self.handle.close()
        finally:
            if self._tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._tmp)
                self._tmp = None

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_output(path: Path) -> OutputFile:
    """Open `path` for an export as described in the module docstring; ConfigError if we can't."""
    path = Path(path)
    try:
        fd_number = _fd_behind(path)
        if fd_number is not None:
            return _stream(path, os.dup(fd_number))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise ConfigError("output", f"{path} is a directory")
        if st is not None and not stat.S_ISREG(st.st_mode):
            flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC
            return _stream(path, os.open(path, flags))
        return _replacement(Path(os.path.realpath(path)), st)
    except OSError as exc:
        raise ConfigError("output", f"cannot write {path}: {exc.strerror or exc}") from None


def open_stdout() -> OutputFile:
    """Standard output as an OutputFile (a dup, so closing it leaves fd 1 to the interpreter)."""
    import sys

    if sys.stdout is None:  # started with fd 1 closed (`>&-`)
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    sys.stdout.flush()
    return _stream(Path("-"), os.dup(sys.stdout.fileno()))


def _fd_behind(path: Path) -> int | None:
    """The fd number if `path` is, or links to, /dev/fd/N, /dev/stdout, /proc/self/fd/N.

    Such a path names a file descriptor, not a file: writing to a dup of it is what the shell
    that set it up expects (a pipe stays a pipe, `>>` keeps appending, a file is not swapped)."""
    current = os.path.abspath(path)
    for _ in range(_MAX_HOPS):
        match = _FD_LINK.match(os.path.normpath(current))
        if match and match.group(1) in (None, "self", "thread-self", str(os.getpid())):
            return int(match.group(2))
        if not os.path.islink(current):
            return None
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return None


def _stream(path: Path, fd: int) -> OutputFile:
    return OutputFile(path, os.fdopen(fd, "wb", buffering=1 << 16), None, fd)


def _replacement(target: Path, old: os.stat_result | None) -> OutputFile:
    directory = target.parent
    if not directory.is_dir():
        raise ConfigError("output", f"{directory} does not exist")
    remove_stale_temps(target)
    for _ in range(_CREATE_TRIES):
        fd, tmp = _locked_temp(target)
        if fd >= 0:
            break
    else:
        raise ConfigError("output", f"cannot create a temp file beside {target}")
    try:
        if old is not None:
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
            with contextlib.suppress(PermissionError):  # only root can give a file away
                os.fchown(fd, old.st_uid, old.st_gid)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # what `> file` in a shell would create
        handle = os.fdopen(fd, "wb", buffering=1 << 16)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return OutputFile(target, handle, tmp, fd)


def _locked_temp(target: Path) -> tuple[int, Path]:
    """A new temp file beside `target`, flocked; (-1, path) if another export's cleanup removed
    it in the instant between its creation and the lock (then the caller makes another)."""
    # mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW, a random name, mode 0600.
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.stat(name, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
            return fd, Path(name)
    except FileNotFoundError:
        pass
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return -1, Path(name)


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temp files of exports to `target` whose writer is dead (their flock is free)."""
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for candidate in target.parent.glob(f".{glob_escape(target.name)}.*{TMP_SUFFIX}"):
            try:
                fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue  # a symlink or gone: never ours to follow
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # an export is writing it right now
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
            finally:
                os.close(fd)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
