"""One page's fetch and the work on its body, in whichever process fetched it.

A body never crosses a process boundary: the process that fetched a page decodes, parses and
extracts it and writes its blob, and hands back only what the crawl commits (status, headers,
hash, blob path, links, fields). `fetch_page` is that work; it runs in a fetch worker process
(`fetch_pool.FetchPool`, the default) or in the crawl's own process (`LocalPageFetcher`, with
`parse_workers=0`). What the result *means* for the frontier (retry, failure, redirect rows) is
decided by the crawl's process, in `pages.PageProcessor`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..domain import ExtractRule
from ..domain.config import CrawlConfig
from ..domain.records import PreviousPage
from ..ports import BlobReader, BlobWriter
from .classify import is_html, matches_download
from .fetch_types import FetchResponse
from .page_types import PageJob, ParseAbandoned, ProcessedPage
from .recrawl import NOT_MODIFIED, as_unchanged, conditional_headers
from .urls import Scope

if TYPE_CHECKING:
    from .fetch import Fetcher

__all__ = [
    "BodyRules",
    "FetchSettings",
    "FetchedPage",
    "HopCheck",
    "LocalPageFetcher",
    "PageFetcher",
    "PageRequest",
    "StoredBody",
    "fetch_page",
]

HopCheck = Callable[[str], Awaitable[str | None]]
Parse = Callable[[PageJob], Awaitable[ProcessedPage]]


@dataclass(frozen=True)
class PageRequest:
    """What a fetch worker needs to know of a claimed row. Picklable."""

    url: str
    depth: int
    resource: bool = False  # an <img src> or the like: stored as a download, never parsed
    previous: PreviousPage | None = None  # a recrawl: what the earlier session stored here


@dataclass(frozen=True, slots=True)
class BodyRules:
    """How bodies are judged and processed: the crawl's scope, extraction rules and download
    patterns. Changes with live tuning (exclude patterns); picklable, sent to every worker."""

    scope: Scope
    extract: tuple[ExtractRule, ...]
    download: tuple[str, ...]

    @classmethod
    def from_config(cls, config: CrawlConfig, scope: Scope) -> BodyRules:
        return cls(scope=scope, extract=tuple(config.extract), download=tuple(config.download))


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """Everything a process needs to build the crawl's `Fetcher`. Picklable: secret headers
    travel to a fetch worker through its pipe, never through a file."""

    concurrency: int
    user_agent: str
    request_timeout: float
    max_body_bytes: int
    allow_private: bool
    secret_headers: Mapping[str, str] | None = None
    secret_origin: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False

    def build(self) -> Fetcher:
        # Imported here: httpx and aiohttp load only in a process that fetches (a fetch worker,
        # or the crawl's own with parse_workers=0), never in a crawl's coordinator.
        from .fetch import Fetcher
        from .tls import tls_context

        return Fetcher(
            concurrency=self.concurrency,
            user_agent=self.user_agent,
            request_timeout=self.request_timeout,
            max_body_bytes=self.max_body_bytes,
            allow_private=self.allow_private,
            secret_headers=dict(self.secret_headers) if self.secret_headers else None,
            secret_origin=self.secret_origin,
            ssl_context=tls_context(self.ca_bundle, self.insecure),
        )


@dataclass(frozen=True)
class StoredBody:
    """A body written as a download blob (not a page): its hash and where it is."""

    sha256: str
    storage_path: str


@dataclass
class FetchedPage:
    """A fetch's answer without its body: at most one of processed / download / abandoned."""

    response: FetchResponse  # `body` is None: it stayed where it was fetched
    size: int  # bytes of the decoded body; 0 when none was read
    processed: ProcessedPage | None = None  # an HTML page: parsed, extracted, its blob written
    parsed_bytes: int = 0  # how much of it the parse looked at (a cut page says so)
    download: StoredBody | None = None
    abandoned: ParseAbandoned | None = field(default=None)  # its parse timed out or crashed

    @property
    def has_body(self) -> bool:
        return self.processed is not None or self.download is not None or self.abandoned is not None


class PageFetcher(Protocol):
    """Fetches one claimed page and does the work on its body (see the module doc)."""

    async def fetch(self, request: PageRequest, hop_check: HopCheck) -> FetchedPage: ...

    def retune(self, rules: BodyRules) -> None: ...

    async def aclose(self) -> None: ...


def wants_body(request: PageRequest, rules: BodyRules) -> Callable[[str], bool]:
    if request.resource:
        return lambda content_type: matches_download(content_type, rules.download)
    return lambda content_type: (
        is_html(content_type) or matches_download(content_type, rules.download)
    )


async def fetch_page(
    request: PageRequest,
    *,
    fetcher: Fetcher,
    rules: BodyRules,
    blobs: BlobWriter,
    parse: Parse,
    hop_check: HopCheck,
) -> FetchedPage:
    """Fetch `request` (redirects followed, each hop vetted) and process its body. Raises
    FetchError; a parse that was abandoned is part of the answer, as is any HTTP status."""
    scope = rules.scope
    depth = request.depth
    previous = request.previous
    response = await fetcher.fetch(
        request.url,
        url_check=lambda url: scope.check(url, depth),
        want_body=wants_body(request, rules),
        hop_check=hop_check,
        conditional=None if previous is None else conditional_headers(previous),
    )
    body = response.body
    stored: tuple[str, str] | None = None
    if previous is not None and response.status_code == NOT_MODIFIED and not response.redirects:
        # Unchanged: the earlier body, worked on as if it had just arrived (links, fields).
        body = await _previous_body(blobs, previous)
        if body is None:  # that content is gone: ask for the page itself
            return await fetch_page(
                PageRequest(request.url, depth, request.resource),
                fetcher=fetcher,
                rules=rules,
                blobs=blobs,
                parse=parse,
                hop_check=hop_check,
            )
        response = as_unchanged(response, previous)
        response.body_skipped = False
        if previous.storage_path.endswith(previous.content_hash):
            # Read back from a blob whose bytes were checked against its name: not written again.
            stored = (previous.content_hash, previous.storage_path)
    response.body = None
    fetched = FetchedPage(response, size=0 if body is None else len(body))
    if body is None or response.body_skipped or response.status_code >= 400:
        return fetched  # an error status is judged on its own; its body is not kept
    if is_html(response.content_type) and not request.resource:
        job = PageJob(
            url=response.final_url,
            depth=depth,
            body=body,
            charset=response.charset,
            is_html=True,
            rules=rules.extract,
            scope=scope,
            blob_sync=False,  # the batch commit syncs once per batch, before its COMMIT
            download=rules.download,
            stored=stored,
        )
        fetched.parsed_bytes = job.max_parse_bytes
        try:
            fetched.processed = await parse(job)
        except ParseAbandoned as exc:
            fetched.abandoned = exc
        return fetched
    # Not fsynced here: the batch commit syncs every blob it names once, before its COMMIT.
    sha, relative = await asyncio.to_thread(blobs.write, body, compress=False, sync=False)
    fetched.download = StoredBody(sha, relative)
    return fetched


async def _previous_body(blobs: BlobWriter, previous: PreviousPage) -> bytes | None:
    """The stored body `previous` names, or None when it cannot be read (gone, damaged)."""
    if not isinstance(blobs, BlobReader):
        return None
    try:
        return await asyncio.to_thread(blobs.read, previous.storage_path)
    except Exception:  # a missing or damaged blob, a lost database: the page is fetched whole
        return None


class LocalPageFetcher:
    """`fetch_page` in this process: the crawl's own Fetcher, and a parse pool for the parse
    (`parse_workers=0`: a thread, for tests and debugging)."""

    def __init__(self, fetcher: Fetcher, rules: BodyRules, blobs: BlobWriter, parse: Parse):
        self._fetcher = fetcher
        self._rules = rules
        self._blobs = blobs
        self._parse = parse

    async def fetch(self, request: PageRequest, hop_check: HopCheck) -> FetchedPage:
        return await fetch_page(
            request,
            fetcher=self._fetcher,
            rules=self._rules,
            blobs=self._blobs,
            parse=self._parse,
            hop_check=hop_check,
        )

    def retune(self, rules: BodyRules) -> None:
        self._rules = rules

    async def aclose(self) -> None:
        """The fetcher and the parse pool belong to the crawl, which closes them."""
