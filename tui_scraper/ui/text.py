"""Untrusted text → safe renderables, for every widget that shows what a website sent.

Everything a website controls (titles, URLs, error strings, extracted values) reaches a widget
only through these helpers: the string is first made *display safe* (control characters,
escape sequences and bidi overrides cannot reach the terminal) and then wrapped in a
`rich.text.Text` or a textual `Content`, which are never parsed as markup. So `[/]` cannot
crash a widget, `[@click=app.quit]` cannot become a clickable action, and an `ESC ]52` cannot
write the user's clipboard.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rich.text import Text
from textual.content import Content

# One sanitiser and one way to show figures, for the app and the headless CLI alike.
from tui_scraper.formatting import (
    human_bytes,
    human_duration,
    human_ms,
    human_rate,
    human_time,
)
from tui_scraper.safe_text import DEFAULT_LIMIT, display_safe

__all__ = [
    "DEFAULT_LIMIT",
    "display_safe",
    "human_bytes",
    "human_duration",
    "human_ms",
    "human_rate",
    "human_time",
    "labelled",
    "safe_content",
    "safe_text",
    "short_url",
]


def safe_text(s: object, style: str = "", *, limit: int = DEFAULT_LIMIT) -> Text:
    """A Rich `Text` (for DataTable cells, Log lines, Static) that is never parsed as markup."""
    return Text(display_safe(s, limit), style=style, no_wrap=True, overflow="ellipsis")


def safe_content(s: object, *, limit: int = DEFAULT_LIMIT) -> Content:
    """A textual `Content` (for Label/Static/notify/palette) that is never parsed as markup."""
    return Content(display_safe(s, limit))


def labelled(*parts: tuple[str, str] | str) -> Content:
    """Assemble trusted labels with untrusted values: `labelled(("Target ", "bold"), url)`.

    Plain `str` parts are treated as untrusted and sanitised; `(text, style)` tuples are our own
    fixed labels. Never build markup with f-strings around untrusted text.
    """
    pieces: list[Content | tuple[str, str]] = []
    for part in parts:
        if isinstance(part, tuple):
            pieces.append(part)
        else:
            pieces.append(safe_content(part))
    return Content.assemble(*pieces)


def short_url(url: str, width: int, *, home: str | None = None) -> str:
    """A URL shortened for a table cell of `width` characters, keeping what tells pages apart.

    The scheme goes (the Status/ID columns say enough); on the session's own host (`home` is
    its start URL) only the path is shown; when host + path still do not fit, the host is
    cut in the middle rather than the path at its end, because at 80 columns the end of
    `http://127.0.0.1:8080/...` is all that differs between rows.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. `http://[x]/`: brackets that are no IPv6 address
        return _fit(url, width)
    if not parts.netloc:
        return _fit(url, width)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if home is not None:
        try:
            base = urlsplit(home)
        except ValueError:
            base = parts._replace(netloc="")  # no home to compare with
        if (base.scheme, base.netloc) == (parts.scheme, parts.netloc):
            return _fit(path, width)
    host = parts.netloc
    if len(host) + len(path) <= width:
        return host + path
    room = width - len(path)
    if room >= 8:
        return _middle(host, room) + path
    # Neither fits whole: at most half the cell for the host, the rest for the path's start.
    budget = min(len(host), max(8, width // 2))
    return _middle(host, budget) + _fit(path, width - budget)


def _middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    keep = width - 1
    head = (keep + 1) // 2
    return text[:head] + "…" + text[len(text) - (keep - head) :]


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
