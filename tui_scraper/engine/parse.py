"""Page processing: decode, parse, extract, find links, store the blob. Pure apart from the blob
write; runs in the fetch worker process that fetched the page (`fetch_worker`), so a body never
crosses a process boundary, or in a thread with `parse_workers=0` (`parse_pool`); never on the
crawl's own event loop.

Why a worker *process*: lexbor's parse time is super-linear on crafted shapes (40 KB of the
lexbor#340 pattern: 8 s; 100k nested divs: ~49 s; shapes in
tests/engine/test_fetch_pool_hazards.py). A thread keeps the loop responsive but cannot be
stopped, so each page gets a deadline: the fetch pool kills a worker that parses one page longer
than that, fails that page with ParseTimeout (ParseCrashed when a worker died under it twice),
and sends the worker's other requests back to the queue (`fetch_pool.WorkerLost`). Workers are
started by `child_processes` (forkserver, never fork).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from ..ports import BlobWriter
from .decode import parser_input
from .extract import default_fields, extract, resource_links
from .page_types import (
    DEFAULT_MAX_PARSE_BYTES,
    TRUNCATED_FIELD,
    PageJob,
    ParseAbandoned,
    ParseCrashed,
    ParseError,
    ParseTimeout,
    ParseWorkerUnavailable,
    ProcessedPage,
    mark_truncated,
)
from .urls import canonicalize

__all__ = [
    "DEFAULT_MAX_PARSE_BYTES",
    "TRUNCATED_FIELD",
    "FoundLinks",
    "PageJob",
    "ParseAbandoned",
    "ParseCrashed",
    "ParseError",
    "ParseTimeout",
    "ParseWorkerUnavailable",
    "ProcessedPage",
    "find_links",
    "mark_truncated",
    "page_fields",
    "process_page",
]

NOT_HTTP = "not http(s)"


def _store(job: PageJob, blobs: BlobWriter | None) -> tuple[str, str | None]:
    if job.stored is not None:
        return job.stored
    if blobs is None:
        return hashlib.sha256(job.body).hexdigest(), None
    # blob_sync=False: the checkpoint that names this blob makes it durable, once per batch.
    digest, relative = blobs.write(job.body, sync=job.blob_sync)
    return digest, relative


def process_page(job: PageJob, blobs: BlobWriter | None = None) -> ProcessedPage:
    """Decode, parse and extract one page; with `blobs`, its body is stored there first.
    Pure apart from the blob write; runs in a fetch worker."""
    body = job.body
    content_hash, storage_path = _store(job, blobs)
    if not job.is_html:
        return ProcessedPage(
            encoding=None,
            title=None,
            fields={},
            links=[],
            refused_links=0,
            content_hash=content_hash,
            storage_path=storage_path,
            size=len(body),
        )
    truncated = len(body) > job.max_parse_bytes
    markup, encoding = parser_input(body[: job.max_parse_bytes] if truncated else body, job.charset)
    tree = LexborHTMLParser(markup)
    found = find_links(tree, job)
    rule_values = extract(tree, job.rules) if job.rules else {}
    fields = page_fields(tree, found.base, found.distinct)
    title = fields["title"]  # taken before a user rule named "title" replaces the field
    fields.update(rule_values)
    return ProcessedPage(
        encoding=encoding,
        title=title,
        fields=fields,
        links=found.links,
        refused_links=sum(found.refused.values()),
        content_hash=content_hash,
        storage_path=storage_path,
        size=len(body),
        refused_by_reason=found.refused,
        truncated=truncated,
        resources=found.resources,
    )


@dataclass
class FoundLinks:
    """What a page links to, as `find_links` found it."""

    base: str  # what relative links resolve against: <base href> or the page's URL
    links: list[tuple[str, int]]
    refused: dict[str, int]  # reason -> count
    distinct: int  # distinct http(s) links, in scope or not
    resources: list[tuple[str, int]]


def _base(tree: LexborHTMLParser, url: str) -> str:
    if not tree.tags("base"):  # most pages: a tag walk in C instead of compiling a selector
        return url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        href = base_node.attrs.get("href")
        resolved = canonicalize(href, url) if href else None
        if resolved is not None:
            return resolved
    return url


def find_links(tree: LexborHTMLParser, job: PageJob) -> FoundLinks:
    """The page's <a>/<area> links (canonical, distinct, in document order per tag) and, when
    `job.download` asks for them, its resources."""
    base = _base(tree, job.url)
    links: list[tuple[str, int]] = []
    refused: dict[str, int] = {}
    seen: set[str] = {job.url}
    child_depth = job.depth + 1
    check = job.scope.check
    distinct = 0
    # tags() is a plain element walk in C, several times cheaper than css("a[href], area[href]");
    # attrs.get reads one attribute where `attributes` builds a dict of them all; dict.fromkeys
    # drops repeated hrefs (a page links its nav several times) in C, keeping the first's place.
    hrefs = dict.fromkeys([node.attrs.get("href") for node in tree.tags("a")])
    hrefs.update(dict.fromkeys([node.attrs.get("href") for node in tree.tags("area")]))
    for href in hrefs:
        if not href:
            continue
        url = canonicalize(href, base)
        if url is None:
            refused[NOT_HTTP] = refused.get(NOT_HTTP, 0) + 1
            continue
        if url in seen:
            continue
        seen.add(url)
        distinct += 1
        reason = check(url, child_depth)
        if reason is None:
            links.append((url, child_depth))
        else:
            refused[reason] = refused.get(reason, 0) + 1

    resources: list[tuple[str, int]] = []
    if job.download:
        for url in resource_links(tree, job.download, lambda raw: canonicalize(raw, base)):
            if url not in seen:
                seen.add(url)
                if check(url, job.depth) is None:
                    resources.append((url, job.depth))
    return FoundLinks(base, links, refused, distinct, resources)


def page_fields(tree: LexborHTMLParser, base: str, outlinks: int) -> dict[str, Any]:
    """The built-in fields, the canonical link resolved against the page's base."""
    fields = default_fields(tree, outlinks=outlinks)
    canonical = fields.get("canonical")
    if canonical:
        fields["canonical"] = canonicalize(canonical, base) or canonical
    return fields
