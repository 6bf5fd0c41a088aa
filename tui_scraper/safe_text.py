"""Untrusted text (titles, URLs, errors from websites) made safe to put on a terminal.

Textual and Rich strip only BEL, BS, VT, FF and CR; OSC/CSI sequences, C1 controls and bidi
overrides reach the terminal raw (RELIABILITY-GUIDE §0.5, §4.3). Everything not printable is
replaced with a visible U+FFFD. Stored data stays raw; this runs only at display time.
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def display_safe(text: str | None, limit: int = 500) -> str:
    if not text:
        return ""
    if text.isascii() and text.isprintable() and len(text) <= limit:
        return text  # the common case, and the cheap one
    out: list[str] = []
    for ch in text[:limit]:
        if ch in "\t\n\r" or unicodedata.category(ch) == "Zs":
            out.append(" ")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(REPLACEMENT)
    if len(text) > limit:
        out.append("…")
    return "".join(out)
