"""A page's job and its processed result, and the parse's errors, without the parser.

These cross the process boundary (a fetch worker pickles a ProcessedPage or a ParseError back to
the crawl's process), so they live apart from `parse`, which loads selectolax: the coordinator
unpickles and commits them without ever loading the parser. `parse` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain import ExtractRule
from .urls import Scope

__all__ = [
    "DEFAULT_MAX_PARSE_BYTES",
    "TRUNCATED_FIELD",
    "PageJob",
    "ParseAbandoned",
    "ParseCrashed",
    "ParseError",
    "ParseTimeout",
    "ParseWorkerUnavailable",
    "ProcessedPage",
    "mark_truncated",
]

DEFAULT_MAX_PARSE_BYTES = 5 * 1024 * 1024
# The field of `extracted` that marks a page parsed only up to the limit: its row is `done` (its
# content is stored whole), but its links, title and fields come from the first bytes only.
TRUNCATED_FIELD = "_truncated"


class ParseError(Exception):
    """Processing a page failed in a way that is about the page, not about us."""


class ParseAbandoned(ParseError):
    """The page cannot be processed within the worker's bounds; the worker was replaced.

    A caller that fails such a page handles this one class; the two subclasses say why.
    """


class ParseTimeout(ParseAbandoned):
    """The page took longer than the pool's deadline; its worker was killed."""


class ParseCrashed(ParseAbandoned):
    """The worker process died while processing the page (e.g. killed by the OOM killer)."""


class ParseWorkerUnavailable(ParseError):
    """No fetch worker can be started (EMFILE, ENOMEM, a broken interpreter): our fault, not the
    page's. The crawler stops resumably instead of failing the pages waiting for a worker."""


@dataclass(frozen=True)
class PageJob:
    """Everything the worker needs for one page. Picklable."""

    url: str  # canonical final URL (after redirects): the base for relative links
    depth: int
    body: bytes
    charset: str | None  # from the HTTP Content-Type, if any
    is_html: bool
    rules: tuple[ExtractRule, ...]
    scope: Scope
    max_parse_bytes: int = DEFAULT_MAX_PARSE_BYTES
    blob_sync: bool = True  # False: the caller makes the blob durable (one syncfs per batch)
    download: tuple[str, ...] = ()  # download patterns: their resources (<img>, …) are listed
    # (sha256, storage path) when the body is stored already (a recrawl's 304: read back from
    # its verified blob), so it is not written again
    stored: tuple[str, str] | None = None


@dataclass
class ProcessedPage:
    encoding: str | None
    title: str | None
    fields: dict[str, Any]
    links: list[tuple[str, int]]  # canonical, in scope, distinct, at depth + 1
    refused_links: int
    content_hash: str
    storage_path: str | None
    size: int
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    truncated: bool = False  # only the first max_parse_bytes were parsed
    # canonical, in scope, at the page's own depth (a page's files belong to it): downloads
    resources: list[tuple[str, int]] = field(default_factory=list)


def mark_truncated(page: ProcessedPage, parsed_bytes: int) -> dict[str, Any]:
    """The page's fields, with `TRUNCATED_FIELD` saying how much was parsed when it was cut.

    The marker wins over a user rule of the same name: a cut page must never pass for whole.
    """
    if not page.truncated:
        return page.fields
    marker = {"parsed_bytes": parsed_bytes, "size": page.size}
    return {**page.fields, TRUNCATED_FIELD: marker}
