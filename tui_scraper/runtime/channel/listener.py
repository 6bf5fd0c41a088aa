"""Bind a session's socket so that it is never reachable by anyone else, even for a moment.

bind() happens under a temporary name in the private run directory, the mode is set to 0600
before listen() (a socket nobody listens on cannot be connected to), and rename() puts it in
place in one step: that also replaces a stale socket left by a dead worker atomically.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import stat
from pathlib import Path
from typing import Final

from .paths import ChannelError, check_socket_path, ensure_run_dir

SOCKET_MODE: Final = 0o600
# Connections beyond the server's admission budget wait here, so it is deep: a client whose
# connect() finds it full gets an error instead of a place in the queue. (The kernel caps it at
# net.core.somaxconn.)
BACKLOG: Final = 1024


def bind_private_socket(path: Path) -> tuple[socket.socket, int]:
    """A listening, non-blocking socket at `path` (mode 0600) and the inode it got.

    A socket file that nobody answers on is replaced; one that a live server answers on is
    refused (ChannelError), as is anything that is not a socket.
    """
    check_socket_path(path)
    ensure_run_dir(path.parent)
    refuse_if_served(path)
    temporary = path.parent / f".{secrets.token_hex(6)}.tmp"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fspath(temporary))
        try:
            os.chmod(temporary, SOCKET_MODE)
            sock.listen(BACKLOG)
            os.rename(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        inode = os.stat(path).st_ino
    except OSError as exc:
        sock.close()
        raise ChannelError(f"{path}: cannot create the socket: {exc.strerror}") from None
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock, inode


def refuse_if_served(path: Path) -> None:
    """ChannelError if a live server listens at `path` or it is not a socket; else return
    (nothing there, or a dead worker's socket that connect() is refused on)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ChannelError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise ChannelError(f"{path}: something that is not a socket is in the way")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return
    except BlockingIOError:
        pass  # the backlog is full: somebody is listening
    except OSError as exc:
        raise ChannelError(f"{path}: cannot check the socket: {exc.strerror}") from None
    finally:
        probe.close()
    raise ChannelError(f"{path}: another worker already serves this session")


def still_ours(path: Path, inode: int) -> bool:
    """Whether `path` is still the socket we bound (not removed, not replaced)."""
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False
