"""`crawl --warc FILE`: the session's WARC written as its pages commit, off the event loop, and
exactly once per page across kills and resumes.

A record is written only for a committed page: the crawl hands each batch to `committed` after
its checkpoint commits, and a thread writes the batch's records (export_warc's writer: the same
records as `export --format warc`, read back from the store). After each batch the file is
fsynced, then a journal beside it (`FILE.journal`) gets the batch's URLs and the file's length,
fsynced too. So:
- a kill mid-batch leaves bytes past the journal's last length: the next start cuts them off
  (a partial gzip member never stays in the file);
- a kill between a commit and its records leaves committed pages the journal does not name: the
  next start writes them first (`catch_up`, one pass over the session's pages) before the crawl
  commits anything new, so no page is written twice and none is missed.
The journal holds one line per page written and is read whole at start (a set of URLs).

A recrawl's revisits refer to the earlier capture as the export's do (warc_revisits.py): the
thread asks the crawl's loop for each batch's references (one store read per batch and
session of the chain) and waits for them; the loop never waits for the thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Final

from .domain.errors import ConfigError
from .domain.records import EarlierCapture, PageRecord, PageResult, SessionRecord
from .domain.status import PageStatus
from .export_warc import SETTLED, ContentReader, RecordWriter
from .outfile import OutputFile
from .warc_revisits import RevisitReferences

__all__ = ["CONFIG_KEY", "LiveWarc", "check_new_target"]

CONFIG_KEY: Final = "warc_path"  # CrawlConfig.extra: where a session's live WARC goes
_LOOKUP_WAIT_S: Final = 120.0
_BATCH_MARK = "@"  # a journal line "@<length>" closes a batch: its URLs are in the file
log = logging.getLogger(__name__)


def check_new_target(path: Path) -> Path:
    """The absolute path of a new live WARC; ConfigError (exit 2, nothing created) when the
    folder is missing or something is already there (a crawl never overwrites a file)."""
    path = Path(os.path.abspath(path))
    if not path.parent.is_dir():
        raise ConfigError("warc", f"the folder {path.parent} does not exist")
    if os.path.lexists(path):
        raise ConfigError("warc", f"{path} exists; --warc writes a new file")
    return path


class LiveWarc:
    def __init__(
        self,
        path: Path,
        session: SessionRecord,
        blobs: ContentReader,
        references: RevisitReferences | None = None,
    ) -> None:
        self.path = path
        self._references = references
        self._loop: asyncio.AbstractEventLoop | None = None
        self.journal = path.with_name(path.name + ".journal")
        self._session = session
        self._blobs = blobs
        self._written: set[str] = set()
        self._queue: queue.SimpleQueue[list[PageRecord] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._journal_fd = -1
        self._writer: RecordWriter | None = None
        self.error: BaseException | None = None

    # setup and teardown (any thread) ----------------------------------------------------------
    def open(self) -> None:
        """Open (or reopen after a stop or a kill) the file and its journal; blocking."""
        length = self._read_journal()
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o600)
        self._journal_fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | flags, 0o600)
        if os.fstat(self._fd).st_size < length:
            # The file lost what the journal says it holds (deleted, cut by hand): start it
            # again; the catch-up then writes every committed page.
            os.ftruncate(self._journal_fd, 0)
            self._written.clear()
            length = 0
        os.ftruncate(self._fd, length)  # what a killed run wrote past its last batch goes
        os.lseek(self._fd, 0, os.SEEK_END)
        out = OutputFile(self.path, os.fdopen(os.dup(self._fd), "wb"), None, self._fd)
        self._out = out
        self._writer = RecordWriter(out, self._blobs)
        if length == 0:
            self._writer.warcinfo(self._session, self.path.name)
            self._sync([])

    def _read_journal(self) -> int:
        try:
            text = self.journal.read_text("utf-8")
        except FileNotFoundError:
            if os.path.lexists(self.path) and os.path.getsize(self.path) > 0:
                raise ConfigError(
                    "warc", f"{self.path} has no journal; not ours to append to"
                ) from None
            return 0
        length = 0
        pending: list[str] = []
        for line in text.split("\n")[:-1]:  # a last line without its newline was cut: ignored
            if line.startswith(_BATCH_MARK):
                length = int(line[1:])
                self._written.update(pending)
                pending = []
            else:
                pending.append(line)
        return length

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="live-warc", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        """Write what was handed over, then close; waits (off the loop) for the thread."""
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._writer is not None:
            self._out.handle.close()
            self._writer = None
        for fd in (self._journal_fd, self._fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._journal_fd = -1

    # writing --------------------------------------------------------------------------------
    async def catch_up(self, pages: AsyncIterator[PageRecord]) -> int:
        """Before the crawl commits anything: write the committed pages the file lacks (a run
        killed between a commit and its records). Returns how many."""
        self._loop = asyncio.get_running_loop()
        batch: list[PageRecord] = []
        count = 0
        async for page in pages:
            if page.status in SETTLED and page.url not in self._written and _has_record(page):
                batch.append(page)
                if len(batch) >= 200:
                    await asyncio.to_thread(self._write, batch)
                    count += len(batch)
                    batch = []
        if batch:
            await asyncio.to_thread(self._write, batch)
            count += len(batch)
        return count

    def committed(self, results: Sequence[PageResult]) -> None:
        """A batch just committed: its pages' records are written by the thread (no wait)."""
        records = [
            _as_record(self._session.id, r)
            for result in results
            for r in (result, result.redirect_result)
            if r is not None and PageStatus(r.status) in SETTLED
        ]
        records = [r for r in records if _has_record(r)]
        if records:
            self._queue.put(records)

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self.error is not None:
                continue  # stopped writing: the next start catches up from the store
            try:
                self._write([p for p in batch if p.url not in self._written])
            except Exception as exc:
                self.error = exc
                log.warning(
                    "live WARC %s: %s; the next start writes what is missing", self.path, exc
                )

    def _write(self, pages: list[PageRecord]) -> None:
        assert self._writer is not None
        self._writer.pages(pages, self._earlier(pages))
        if self._writer.unreadable:
            # Content gone under a running crawl: those pages are left for the next start.
            lost = set(self._writer.unreadable)
            self._writer.unreadable.clear()
            pages = [p for p in pages if p.url not in lost]
        self._sync([p.url for p in pages])

    def _earlier(self, pages: list[PageRecord]) -> dict[str, EarlierCapture] | None:
        """The batch's revisit references, read on the crawl's loop (this is the thread)."""
        if self._references is None or self._loop is None:
            return None
        lookup = self._references.lookup(pages)
        # Bounded: a loop that no longer runs it would hold the writer, and so close(), for
        # good; a timeout is a write error like any other (the next start catches up).
        return asyncio.run_coroutine_threadsafe(lookup, self._loop).result(_LOOKUP_WAIT_S)

    def _sync(self, urls: list[str]) -> None:
        self._out.handle.flush()
        os.fsync(self._fd)
        length = os.lseek(self._fd, 0, os.SEEK_CUR)
        lines = "".join(f"{url}\n" for url in urls) + f"{_BATCH_MARK}{length}\n"
        os.write(self._journal_fd, lines.encode("utf-8"))
        os.fsync(self._journal_fd)
        self._written.update(urls)


def _has_record(page: PageRecord) -> bool:
    return page.response_head is not None or (
        page.status is PageStatus.DONE and page.storage_path is not None
    )


def _as_record(session_id: str, r: PageResult) -> PageRecord:
    return PageRecord(
        id=0,
        session_id=session_id,
        url=r.url,
        depth=r.depth,
        status=PageStatus(r.status),
        attempts=r.attempts,
        next_attempt_at=None,
        http_status=r.http_status,
        content_type=r.content_type,
        encoding=r.encoding,
        content_hash=r.content_hash,
        storage_path=r.storage_path,
        title=r.title,
        extracted=None,
        error=None,
        fetched_at=r.fetched_at,
        elapsed_ms=r.elapsed_ms,
        size=r.size,
        parent_id=r.parent_id,
        request_head=r.request_head,
        response_head=r.response_head,
    )
