"""The parse of a crawl with `parse_workers=0` (tests, debugging): in a thread, under a deadline.

A crawl with fetch workers (the default) parses each page in the worker process that fetched it,
where the coordinator kills a parse past the deadline (`fetch_pool`). Here nothing can be killed:
a thread keeps the loop responsive but cannot be stopped, so a page past the deadline fails with
ParseTimeout while its thread runs on to the end of the parse.
"""

from __future__ import annotations

import asyncio

from ..ports import BlobWriter
from .page_types import PageJob, ParseError, ParseTimeout, ProcessedPage

__all__ = ["ParsePool"]


class ParsePool:
    """`parse.process_page` in a thread, each page under `deadline` seconds.

    `workers` must be 0: worker processes are the fetch pool's. Errors: ParseTimeout past the
    deadline; whatever process_page raised (e.g. OSError from the blob write), as it is;
    ParseError once the pool is closed.
    """

    def __init__(
        self, workers: int = 0, deadline: float = 10.0, *, blobs: BlobWriter | None = None
    ) -> None:
        if workers != 0:
            raise ValueError("workers must be 0: pages are parsed in the fetch workers")
        if deadline <= 0:
            raise ValueError("deadline must be positive")
        self.deadline = deadline
        self.blobs = blobs  # None: pages are hashed, not stored
        self.timeouts = 0
        self._closed = False

    async def process(self, job: PageJob) -> ProcessedPage:
        if self._closed:
            raise ParseError("parse pool is closed")
        # Imported with the first page: a crawl with fetch workers builds this pool but never
        # parses here, and its coordinator must not load selectolax.
        from . import parse

        try:
            return await asyncio.wait_for(
                asyncio.to_thread(parse.process_page, job, self.blobs), self.deadline
            )
        except TimeoutError:
            self.timeouts += 1
            raise ParseTimeout(
                f"parsing took longer than {self.deadline:g} s ({job.url})"
            ) from None

    async def aclose(self) -> None:
        self._closed = True
