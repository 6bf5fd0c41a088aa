"""Validators and conditional requests for static resources, as nginx answers them.

Every resource gets a strong ETag (a hash of its bytes: it changes exactly when they do) and a
Last-Modified; a GET or HEAD whose If-None-Match names the ETag (weak comparison, as RFC 9110
§13.1.2 asks of If-None-Match; `*` matches any), or, without If-None-Match, whose
If-Modified-Since is not older than Last-Modified, is answered 304 with no body. So a recrawl of
the demo site shows what asking "changed since?" saves. Pure functions: no I/O, no aiohttp.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.utils import formatdate, parsedate_to_datetime

__all__ = ["LAST_MODIFIED", "etag_of", "not_modified", "validators"]

# One fixed date for every resource: the demo's bytes are built in code, so no file has an mtime,
# and a date that moved with each server start would make every If-Modified-Since a change.
_LAST_MODIFIED_EPOCH = 1_717_200_000  # 2024-06-01 00:00:00 UTC
LAST_MODIFIED = formatdate(_LAST_MODIFIED_EPOCH, usegmt=True)


def etag_of(body: bytes) -> str:
    """A strong entity tag of `body` (quoted, as sent)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def validators(body: bytes, last_modified: str = LAST_MODIFIED) -> dict[str, str]:
    """The ETag and Last-Modified headers of a resource whose bytes are `body`."""
    return {"ETag": etag_of(body), "Last-Modified": last_modified}


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _matches_any(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(candidate) == wanted for candidate in header.split(","))


def _not_older(since: str, last_modified: str) -> bool:
    try:
        asked, modified = parsedate_to_datetime(since), parsedate_to_datetime(last_modified)
    except (TypeError, ValueError, IndexError):
        return False  # an unparseable date is ignored (RFC 9110 §13.1.3): a full answer
    if asked.tzinfo is None or modified.tzinfo is None:
        return False
    return asked >= modified


def not_modified(
    method: str, headers: Mapping[str, str], etag: str, last_modified: str = LAST_MODIFIED
) -> bool:
    """Whether a request with `headers` for a resource with these validators gets 304."""
    if method not in ("GET", "HEAD"):
        return False
    match = headers.get("If-None-Match")
    if match is not None:
        # If-None-Match present: If-Modified-Since is ignored (RFC 9110 §13.2.2).
        return _matches_any(match, etag)
    since = headers.get("If-Modified-Since")
    return since is not None and _not_older(since, last_modified)
