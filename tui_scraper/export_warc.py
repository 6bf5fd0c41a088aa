"""Export a session as a WARC 1.1 file (ISO 28500), written with warcio, one gzip member per
record, streamed: pages are read in keyset batches and each record is written as it is built, so
a session of any size never sits in memory (one page's body at a time).

What goes in, in this order:
- a `warcinfo` record first: the software, the session, its target and the rules below;
- per page that got an answer and whose heads were kept (`PageRecord.response_head`):
  - a `revisit` record (profile server-not-modified) for a page that answered 304 on a recrawl:
    the 304's status line and headers, WARC-Payload-Digest the sha1 of the stored content the
    row names (the earlier session's blob, so the digest of the earlier response's payload),
    and WARC-Refers-To-Target-URI and WARC-Refers-To-Date the URL and fetch time of the
    earlier capture that recorded that payload (warc_revisits.py: past earlier 304s of a
    recrawl of a recrawl); with no such capture left, the page's own URL and no date;
  - otherwise a `response` record: the status line and headers as received, and the stored body;
  - a `request` record beside either (WARC-Concurrent-To): the request line and headers we sent,
    credentials left out (engine/http_heads.py);
- a page stored before heads were kept: a `resource` record of its stored content (its type, no
  HTTP headers), since nothing else about the exchange is known.

The payload is the stored body, which is the body as received once its transfer coding
(chunked) and content coding (gzip, br, zstd, deflate) are removed: a crawl keeps the decoded
body only. So a record's `Content-Encoding`, `Transfer-Encoding` and `Content-Length` headers
are renamed `X-Archive-Orig-…` (nothing received is dropped) and a `Content-Length` of the
payload is added; when no body was stored (an error status, a redirect, a type not kept) the
payload is empty and the record says `WARC-Truncated: unspecified` unless the server announced
no body. warcinfo states the rule too, so a reader of the file alone knows it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import zlib
from base64 import b32encode
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Final, Protocol

from .domain.errors import ConfigError, ScraperError
from .domain.records import EarlierCapture, PageRecord, SessionRecord
from .domain.status import PageStatus
from .export import UnreadableContent
from .outfile import OutputFile, open_output
from .warc_revisits import CHAIN_RULE, RevisitReferences

__all__ = [
    "FORMAT",
    "GZIP_LEVEL",
    "SETTLED",
    "ContentReader",
    "RecordWriter",
    "WarcSource",
    "export_warc",
    "open_warc_output",
    "require_path",
]

FORMAT: Final = "warc"
# zlib's default: level 9 costs several times the CPU for a few per cent of size on HTML.
GZIP_LEVEL: Final = 6
BATCH: Final = 200
# The pages with a final answer: a row queued for a retry (a 503 to try again) is not one yet.
SETTLED: Final = frozenset({PageStatus.DONE, PageStatus.FAILED, PageStatus.SKIPPED})
REVISIT_PROFILE: Final = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
_RENAMED: Final = ("content-encoding", "transfer-encoding", "content-length")
PAYLOAD_RULE: Final = (
    "payloads are the bodies as stored: transfer and content codings removed; the received "
    "Content-Encoding, Transfer-Encoding and Content-Length are kept as X-Archive-Orig-* and a "
    "Content-Length of the payload is added; a body that was not stored is an empty payload "
    "marked WARC-Truncated; request records leave out Cookie, Authorization and the secret "
    "headers the crawl was given"
)


class ContentReader(Protocol):
    def read(self, relative_path: str) -> bytes: ...


class WarcSource(Protocol):
    """What a WARC export reads: the session, its pages in id order, their stored content."""

    async def get_session(self, session_id: str) -> SessionRecord: ...

    def iter_pages(self, session_id: str) -> AsyncIterator[PageRecord]: ...

    async def page_counts(self, session_id: str) -> dict[PageStatus, int]: ...

    async def earlier_captures(
        self, session_id: str, urls: Sequence[str]
    ) -> dict[str, EarlierCapture]: ...

    @property
    def blobs(self) -> ContentReader: ...


Progress = Callable[[int, int], None]  # (pages looked at, pages in the session)


def open_warc_output(path: Path) -> OutputFile:
    """A WARC goes only to a regular file (new, or replaced atomically): an archive is kept and
    indexed by offset, and binary never goes to a terminal. A directory, FIFO, device, socket or
    symlink at `path` is refused (ConfigError: one line, exit 2), nothing touched."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ConfigError("output", f"cannot write {path}: {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        raise ConfigError("output", f"{path} is {kind}; a WARC is written to a regular file only")
    return open_output(path)


def require_path(path: Path | None) -> Path:
    """A WARC export needs a file: binary is never written to standard output or a terminal."""
    if path is None or str(path) == "-":
        raise ConfigError("output", "a WARC export needs -o FILE (it is never written to stdout)")
    return path


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


async def export_warc(
    store: WarcSource,
    session_id: str,
    path: Path,
    *,
    progress: Progress | None = None,
) -> int:
    """Write the session as WARC to `path` (see open_warc_output); returns the pages written as
    records. Content that cannot be read is left out and reported at the end (exit 1), as the
    other exports do."""
    session = await store.get_session(session_id)
    total = sum((await store.page_counts(session_id)).values())
    out = await asyncio.to_thread(open_warc_output, path)
    with out:
        writer = RecordWriter(out, store.blobs)
        references = RevisitReferences(store, session)
        await asyncio.to_thread(writer.warcinfo, session, path.name)
        batch: list[PageRecord] = []
        seen = 0
        async for page in store.iter_pages(session_id):
            batch.append(page)
            if len(batch) >= BATCH:
                await asyncio.to_thread(writer.pages, batch, await references.lookup(batch))
                seen += len(batch)
                batch = []
                if progress is not None:
                    progress(seen, total)
        if batch:
            await asyncio.to_thread(writer.pages, batch, await references.lookup(batch))
            seen += len(batch)
        if progress is not None:
            progress(seen, total)
        await asyncio.to_thread(out.commit)
    if writer.unreadable:
        raise UnreadableContent(
            f"wrote {writer.written} pages, but the stored content of {len(writer.unreadable)} "
            f"is missing or damaged (first: {writer.unreadable[0]}); they are not in the file"
        )
    return writer.written


class _ContentLost(Exception):
    """A page's stored content is missing or damaged (raised before any of its records)."""


class _GzipMembers:
    """A file object for warcio's writer: each record (warcio flushes after every one) becomes
    one gzip member, so a reader can seek to any record's offset (CDX indexes rely on it)."""

    def __init__(self, out: OutputFile, level: int) -> None:
        self._out = out
        self._level = level
        self._zip = self._new()

    def _new(self) -> Any:
        return zlib.compressobj(self._level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self._out.write(self._zip.compress(data))
        return len(data)

    def flush(self) -> None:
        self._out.write(self._zip.flush())
        self._zip = self._new()


class RecordWriter:
    """Builds and writes the records of pages (the export's and `crawl --warc`'s); blocking, so
    it runs in a worker thread (the caller's loop stays free)."""

    def __init__(self, out: OutputFile, blobs: ContentReader) -> None:
        from warcio.warcwriter import WARCWriter

        self._blobs = blobs
        self._warc = WARCWriter(_GzipMembers(out, GZIP_LEVEL), gzip=False, warc_version="1.1")
        self.written = 0
        self.unreadable: list[str] = []

    def warcinfo(self, session: SessionRecord, filename: str) -> None:
        from . import __version__

        config = session.config
        info = {
            "software": f"tui-scraper/{__version__}",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
            "warc-format/warc-1.1/",
            "isPartOf": f"tui-scraper session {session.id}",
            "description": f"crawl of {session.target_url}",
            "http-header-user-agent": config.user_agent,
            "robots": "obey" if config.respect_robots else "ignore",
            "tui-scraper-payloads": PAYLOAD_RULE,
        }
        if config.recrawl_of is not None:
            info["tui-scraper-recrawl-of"] = f"tui-scraper session {config.recrawl_of}"
            info["tui-scraper-revisits"] = CHAIN_RULE
        self._warc.write_record(self._warc.create_warcinfo_record(filename, info))

    def pages(
        self, pages: Sequence[PageRecord], earlier: Mapping[str, EarlierCapture] | None = None
    ) -> None:
        """Write each page's records; `earlier` is what the revisits of 304 pages refer to (by
        URL, see warc_revisits.py). Content that cannot be read is noted in `unreadable` (the
        page is left out, nothing of it written); a failing write raises."""
        for page in pages:
            try:
                self._page(page, (earlier or {}).get(page.url))
            except _ContentLost:
                self.unreadable.append(page.url)

    def _read(self, stored: str) -> bytes:
        try:
            return self._blobs.read(stored)
        except (ScraperError, OSError) as exc:
            raise _ContentLost(stored) from exc

    def _page(self, page: PageRecord, earlier: EarlierCapture | None) -> None:
        if page.status not in SETTLED:
            return  # queued for a retry or being fetched: its answer is not final yet
        stored = page.storage_path if page.status is PageStatus.DONE else None
        if page.response_head is None:
            if stored is not None:
                self._resource(page, self._read(stored))
            return
        date = _warc_date(page.fetched_at)
        http = _parse_head(page.response_head)
        if page.http_status == 304 and stored is not None:
            digest = _sha1(self._read(stored))
            warc_headers = {
                "WARC-Date": date,
                "WARC-Profile": REVISIT_PROFILE,
                "WARC-Refers-To-Target-URI": page.url if earlier is None else earlier.url,
                "WARC-Payload-Digest": digest,
            }
            if earlier is not None and earlier.fetched_at is not None:
                warc_headers["WARC-Refers-To-Date"] = _warc_date(earlier.fetched_at)
            record = self._warc.create_warc_record(
                page.url, "revisit", http_headers=http, warc_headers_dict=warc_headers
            )
        else:
            body = self._read(stored) if stored is not None else None
            record = self._response(page.url, date, http, body)
        request = self._request(page)
        if request is None:
            self._warc.write_record(record)
        else:
            self._warc.write_request_response_pair(request, record)
        self.written += 1

    def _response(self, url: str, date: str, http: Any, body: bytes | None) -> Any:
        warc_headers = {"WARC-Date": date}
        announced = _adjust_for_stored_body(http, len(body or b""))
        if body is None and announced:
            warc_headers["WARC-Truncated"] = "unspecified"
        return self._warc.create_warc_record(
            url,
            "response",
            payload=BytesIO(body or b""),
            length=len(body or b""),
            http_headers=http,
            warc_headers_dict=warc_headers,
        )

    def _request(self, page: PageRecord) -> Any:
        if page.request_head is None:
            return None
        return self._warc.create_warc_record(
            page.url,
            "request",
            http_headers=_parse_head(page.request_head, request=True),
            warc_headers_dict={"WARC-Date": _warc_date(page.fetched_at)},
        )

    def _resource(self, page: PageRecord, body: bytes) -> None:
        record = self._warc.create_warc_record(
            page.url,
            "resource",
            payload=BytesIO(body),
            length=len(body),
            warc_content_type=page.content_type or "application/octet-stream",
            warc_headers_dict={"WARC-Date": _warc_date(page.fetched_at)},
        )
        self._warc.write_record(record)
        self.written += 1


def _parse_head(head: bytes, *, request: bool = False) -> Any:
    """A stored head (http_heads.py: CRLF lines, latin-1) as warcio's StatusAndHeaders."""
    from warcio.statusandheaders import StatusAndHeaders

    lines = head.decode("latin-1").split("\r\n")
    first, fields = lines[0], lines[1:]
    headers: list[tuple[str, str]] = []
    for line in fields:
        if not line:
            break
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    if request:
        return StatusAndHeaders(first, headers, is_http_request=True)
    protocol, _, statusline = first.partition(" ")
    return StatusAndHeaders(statusline, headers, protocol=protocol)


def _adjust_for_stored_body(http: Any, length: int) -> bool:
    """Rename the headers that describe the wire form (see the module doc) and add the stored
    payload's Content-Length; returns whether the server announced a body."""
    announced = False
    lowered_names = [name.lower() for name, _value in http.headers]
    declared = [v.strip() for n, v in http.headers if n.lower() == "content-length"]
    if declared == [str(length)] and not {"content-encoding", "transfer-encoding"} & set(
        lowered_names
    ):
        return length > 0  # the head as received already describes the payload
    kept: list[tuple[str, str]] = []
    for name, value in http.headers:
        lowered = name.lower()
        if lowered in _RENAMED:
            announced |= lowered != "content-length" or value.strip() != "0"
            kept.append((f"X-Archive-Orig-{name}", value))
        else:
            kept.append((name, value))
    kept.append(("Content-Length", str(length)))
    http.headers = kept
    return announced


def _sha1(data: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _warc_date(at: float | None) -> str:
    """WARC 1.1's W3C date with microseconds, in UTC."""
    when = datetime.fromtimestamp(at if at is not None else 0.0, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
