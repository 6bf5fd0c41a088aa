"""A hostile HTTP/1.1 server on 127.0.0.x for the fetcher tests.

Raw asyncio streams rather than a framework: the tests need to lie about Content-Length, drip
headers a byte at a time, stream forever and see when the client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import brotli
import pytest
import zstandard

# 100 MiB of zeros: ten times the tests' 10 MiB cap, so an unbounded decoder would blow the
# "cap + 32 MB" RSS bound by far, at half the set-up time of a 200 MiB bomb.
BOMB_DECODED = 100 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    server: HostileServer


@dataclass
class LogEntry:
    host: str
    path: str
    headers: dict[str, str]
    bytes_sent: int = 0
    done: bool = False  # the handler returned (finished or the client hung up)


Handler = Callable[[Request, asyncio.StreamWriter, LogEntry], Awaitable[bool]]


@dataclass
class HostileServer:
    host: str = "127.0.0.1"
    routes: dict[str, Handler] = field(default_factory=dict)
    log: list[LogEntry] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def hits(self, path: str) -> list[LogEntry]:
        return [e for e in self.log if e.path == path]

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.routes[path] = fn
            return fn

        return deco

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                entry = LogEntry(self.host, path, headers)
                self.log.append(entry)
                handler = self.routes.get(path, not_found)
                try:
                    keep = await handler(Request(method, path, headers, self), writer, entry)
                except (ConnectionError, asyncio.CancelledError):
                    keep = False
                finally:
                    entry.done = True
                if not keep:
                    return
        finally:
            self._tasks.discard(task)
            writer.close()


async def send(
    writer: asyncio.StreamWriter,
    entry: LogEntry,
    status: str,
    headers: dict[str, str] | list[tuple[str, str]],
    body: bytes = b"",
) -> bool:
    items = headers.items() if isinstance(headers, dict) else headers
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n"
    writer.write(head.encode("latin-1") + body)
    entry.bytes_sent += len(head) + len(body)
    await writer.drain()
    return True


def page(body: bytes, ctype: str = "text/html; charset=utf-8", **extra: str) -> Handler:
    async def handler(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        hdrs = {"Content-Type": ctype, "Content-Length": str(len(body))}
        hdrs.update({k.replace("_", "-"): v for k, v in extra.items()})
        return await send(w, e, "200 OK", hdrs, body)

    return handler


def redirect(location: str, status: str = "302 Found") -> Handler:
    async def handler(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
        return await send(w, e, status, {"Location": location, "Content-Length": "0"})

    return handler


async def not_found(req: Request, w: asyncio.StreamWriter, e: LogEntry) -> bool:
    return await send(w, e, "404 Not Found", {"Content-Length": "0"})


async def stream_forever(
    w: asyncio.StreamWriter, e: LogEntry, chunk: bytes, *, chunked: bool, limit: int
) -> None:
    """Write until the client hangs up (or `limit` bytes, so a broken client cannot fill RAM)."""
    frame = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") if chunked else chunk
    while e.bytes_sent < limit:
        w.write(frame)
        e.bytes_sent += len(frame)
        await w.drain()


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    srv = HostileServer("127.0.0.1")
    await srv.start()
    yield srv
    await srv.close()


@pytest.fixture
async def server2() -> AsyncIterator[HostileServer]:
    """A second origin on 127.0.0.2 (also loopback on Linux)."""
    srv = HostileServer("127.0.0.2")
    await srv.start()
    yield srv
    await srv.close()


def _stream_compress(compress: Callable[[bytes], bytes], flush: Callable[[], bytes]) -> bytes:
    zeros = bytes(1 << 20)
    parts = [compress(zeros) for _ in range(BOMB_DECODED >> 20)]
    parts.append(flush())
    return b"".join(parts)


@pytest.fixture(scope="session")
def bombs() -> dict[str, bytes]:
    """BOMB_DECODED bytes of zeros per encoding, compressed in parallel threads (the codecs
    release the GIL) without ever holding the decoded bytes."""
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    br = brotli.Compressor(quality=3)
    zs = zstandard.ZstdCompressor(level=3).compressobj()
    with ThreadPoolExecutor(3) as pool:
        futures = {
            "gzip": pool.submit(_stream_compress, gz.compress, gz.flush),
            "br": pool.submit(_stream_compress, br.process, br.finish),
            "zstd": pool.submit(_stream_compress, zs.compress, zs.flush),
        }
        out = {k: f.result() for k, f in futures.items()}
    # gzip, gzip, gzip: three layers, ~hundreds of bytes on the wire.
    layered = out["gzip"]
    for _ in range(2):
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        layered = c.compress(layered) + c.flush()
    out["gzip, gzip, gzip"] = layered
    return out
