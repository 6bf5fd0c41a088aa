"""The URL canonicalisation of the raw baselines, the same as tui-scraper's.

Fragment dropped, query parameters sorted, scheme and host lower-case. A module of its own so
that each baseline imports only its own HTTP stack (importing httpx costs CPU at start-up).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def canonical(url: str) -> str:
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True))) if parts.query else ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))
