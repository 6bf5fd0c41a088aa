"""Who is on the other end of a Unix socket: SO_PEERCRED, checked on every accepted connection.

The socket's mode (0600, in a 0700 directory) already keeps other users out; the peer check is
the second lock for when a mode is loosened by hand or root runs a client for someone else.
"""

from __future__ import annotations

import socket
import struct
from typing import Protocol

# struct ucred { pid_t pid; uid_t uid; gid_t gid; }
_UCRED = struct.Struct("iII")


class SocketLike(Protocol):
    """A socket, or the read-only view of one that an asyncio transport hands out."""

    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...


def peer_uid(sock: SocketLike) -> int:
    """The uid of the process that connected (as of connect(); it cannot be forged later)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    _pid, uid, _gid = _UCRED.unpack(raw)
    return int(uid)


def peer_allowed(sock: SocketLike, allowed_uid: int) -> bool:
    """True only if the peer runs as `allowed_uid`; any failure to tell counts as a stranger."""
    try:
        return peer_uid(sock) == allowed_uid
    except (OSError, struct.error):
        return False
