"""Bounded decoding of HTTP content codings.

httpx (and aiohttp, unless told otherwise) decode a response eagerly per network read with no
limit on the output: a 329-byte br body becomes one 210 MB chunk before any byte cap in the caller
can act. So the fetcher reads *raw* bytes and feeds them here; every
decoder below is asked for at most `cap - size + 1` bytes at a time, so memory stays within the cap
plus one output step whatever the compression ratio.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import Final

import brotli
import zstandard

__all__ = [
    "SUPPORTED_ENCODINGS",
    "BodyTooLarge",
    "BoundedDecoder",
    "DecodeError",
    "UnsupportedEncoding",
]

# What we advertise in Accept-Encoding; also the set `BoundedDecoder` accepts.
SUPPORTED_ENCODINGS: Final = ("gzip", "deflate", "br", "zstd")

# Largest slice of output produced per decoder call. Small enough to keep the overshoot past the
# cap negligible, large enough that the per-call overhead does not show on normal pages.
_STEP: Final = 64 * 1024

# RFC 9659 §3: HTTP zstd senders must keep the window ≤ 8 MiB and recipients may refuse larger.
# libzstd's default limit is 128 MiB, which a hostile frame could make us allocate and fill.
_ZSTD_MAX_WINDOW: Final = 8 * 1024 * 1024


class DecodeError(Exception):
    """Base of the decoder's errors. All are permanent: retrying fetches the same bytes."""


class BodyTooLarge(DecodeError):
    def __init__(self, cap: int) -> None:
        self.cap = cap
        super().__init__(f"body larger than {cap} bytes after decoding")


class UnsupportedEncoding(DecodeError):
    pass


class _Sink:
    """Collects decoded output and enforces the cap before a byte is kept past it."""

    __slots__ = ("_buf", "cap", "size", "truncate")

    def __init__(self, cap: int, truncate: bool) -> None:
        self.cap = cap
        self.truncate = truncate
        self.size = 0
        # BytesIO.getvalue() hands back its buffer without a copy when nobody else holds it, so
        # finish() does not briefly double the body in memory as b"".join(chunks) would.
        self._buf = io.BytesIO()

    def room(self) -> int:
        # One more than the remaining room, so "exactly at the cap" is accepted and one byte past
        # it is detected without asking a decoder for more.
        return min(_STEP, self.cap - self.size + 1)

    def write(self, data: bytes) -> int:
        n = len(data)
        if self.size + n > self.cap:
            if self.truncate:  # keep what fits, so partial() returns exactly cap bytes
                self._buf.write(data[: self.cap - self.size])
                self.size = self.cap
            raise BodyTooLarge(self.cap)
        self.size += n
        self._buf.write(data)
        return n

    def getvalue(self) -> bytes:
        return self._buf.getvalue()


class _ZlibStream:
    """gzip (possibly multi-member) or deflate (zlib-wrapped or raw, sniffed from the header)."""

    __slots__ = ("_d", "_gzip", "_pending", "_sink")

    def __init__(self, sink: _Sink, *, gzip: bool) -> None:
        self._sink = sink
        self._gzip = gzip
        self._pending = b""  # deflate only: bytes held until the header can be sniffed
        self._d: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None

    def feed(self, data: bytes) -> None:
        if self._d is None:
            data = self._pending + data
            if len(data) < 2:
                self._pending = data
                return
            self._pending = b""
            # Many servers send raw deflate under "deflate" (RFC 9110 says zlib): a zlib stream
            # starts with CMF=8 (deflate) and a header checksum divisible by 31.
            zlib_wrapped = (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        self._run(data)

    def _run(self, data: bytes) -> None:
        d = self._d
        assert d is not None
        sink = self._sink
        try:
            while True:
                limit = sink.room()
                out = d.decompress(data, limit)
                if out:
                    sink.write(out)
                data = d.unconsumed_tail
                if d.eof:
                    rest = d.unused_data
                    # Concatenated gzip members are one body (RFC 1952 §2.2); anything after a
                    # deflate stream is trailing junk that browsers ignore, and so do we.
                    if not (self._gzip and rest.strip(b"\x00")):
                        return
                    d = self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    data = rest
                    continue
                # Stop once zlib has neither unread input nor a full output slice pending.
                if not data and len(out) < limit:
                    return
        except zlib.error as exc:
            raise UnsupportedEncoding(
                f"corrupt {'gzip' if self._gzip else 'deflate'} data: {exc}"
            ) from None

    def finish(self) -> None:
        if self._d is None:
            if self._pending:
                raise UnsupportedEncoding("corrupt deflate data: truncated header")
            return
        # A truncated stream yields what was decoded so far, as browsers do.
        self._run(b"")


class _BrotliStream:
    __slots__ = ("_d", "_sink")

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> None:
        d = self._d
        sink = self._sink
        try:
            out = d.process(data, output_buffer_limit=sink.room())
            sink.write(out)
            # The limit was hit: the decoder holds more output and must be drained with empty
            # input before it may be given more data (brotli ≥ 1.2 contract).
            while not d.can_accept_more_data():
                sink.write(d.process(b"", output_buffer_limit=sink.room()))
        except brotli.error as exc:
            raise UnsupportedEncoding(f"corrupt br data: {exc}") from None

    def finish(self) -> None:
        self.feed(b"")


class _ZstdStream:
    __slots__ = ("_sink", "_w")

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink
        dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        # stream_writer pushes output to the sink in write_size slices as it is produced, so the
        # sink's cap check runs before the next slice exists.
        self._w = dctx.stream_writer(
            sink,  # type: ignore[arg-type]  # only .write() is used
            write_size=_STEP,
            write_return_read=True,
            closefd=False,
        )

    def feed(self, data: bytes) -> None:
        try:
            self._w.write(data)
        except zstandard.ZstdError as exc:
            raise UnsupportedEncoding(f"corrupt zstd data: {exc}") from None

    def finish(self) -> None:
        try:
            self._w.flush()  # type: ignore[no-untyped-call]
        except zstandard.ZstdError as exc:
            raise UnsupportedEncoding(f"corrupt zstd data: {exc}") from None


class _IdentityStream:
    __slots__ = ("_sink",)

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink

    def feed(self, data: bytes) -> None:
        self._sink.write(data)

    def finish(self) -> None:
        pass


_STREAMS: Final[
    dict[str, Callable[[_Sink], _IdentityStream | _ZlibStream | _BrotliStream | _ZstdStream]]
] = {
    "identity": _IdentityStream,
    "gzip": lambda s: _ZlibStream(s, gzip=True),
    "x-gzip": lambda s: _ZlibStream(s, gzip=True),
    "deflate": lambda s: _ZlibStream(s, gzip=False),
    "br": _BrotliStream,
    "zstd": _ZstdStream,
}


class BoundedDecoder:
    """Decode one response body, refusing to hold more than `cap` decoded bytes.

    `content_encodings` is the Content-Encoding header split on commas (any case, blanks allowed).
    More than one real coding is refused: stacked codings multiply the amplification and no
    legitimate server needs them (urllib3 CVE-2025-66418).
    """

    __slots__ = ("_sink", "_stream", "encoding")

    def __init__(self, content_encodings: list[str], cap: int, *, truncate: bool = False) -> None:
        codings = [c.strip().lower() for c in content_encodings]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise UnsupportedEncoding(f"stacked content encodings: {', '.join(codings)}")
        self.encoding = codings[0] if codings else "identity"
        factory = _STREAMS.get(self.encoding)
        if factory is None:
            raise UnsupportedEncoding(f"unsupported content encoding: {self.encoding[:40]}")
        self._sink = _Sink(cap, truncate)
        self._stream = factory(self._sink)

    @property
    def size(self) -> int:
        """Decoded bytes so far."""
        return self._sink.size

    def feed(self, raw: bytes) -> None:
        """Decode one chunk of raw body. Raises BodyTooLarge or UnsupportedEncoding."""
        self._stream.feed(raw)

    def finish(self) -> bytes:
        """Flush the decoder and return the whole decoded body."""
        self._stream.finish()
        return self._sink.getvalue()

    def partial(self) -> bytes:
        """After BodyTooLarge with truncate=True: the first `cap` decoded bytes."""
        return self._sink.getvalue()
