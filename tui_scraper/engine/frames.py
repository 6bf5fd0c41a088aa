"""Length-prefixed pickles over a pipe, read without blocking.

The fetch pool and its worker processes exchange small messages (tuples) many times a page.
Each side collects what it has to say during one turn of its event loop and writes it in one
`os.write` (one wake-up on the other side per batch, not per message), and reads whatever is
there into a buffer that yields every complete message.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

__all__ = ["FrameReader", "encode"]

_HEADER = struct.Struct("!I")


def encode(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


class FrameReader:
    """Feed raw bytes; get back the messages they complete, in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._buffer
        buffer += data
        messages: list[Any] = []
        start = 0
        end = len(buffer)
        size = _HEADER.size
        with memoryview(buffer) as view:  # released before the buffer is resized below
            while end - start >= size:
                (length,) = _HEADER.unpack_from(view, start)
                if end - start - size < length:
                    break
                body = start + size
                messages.append(pickle.loads(view[body : body + length]))
                start = body + length
        if start:
            del buffer[:start]
        return messages
