"""Untrusted text (titles, URLs, errors from websites) made safe to put on a terminal.

Textual and Rich strip only BEL, BS, VT, FF and CR; OSC/CSI sequences, C1 controls and bidi
overrides would reach the terminal raw (a page title could set the window title, write the
clipboard with OSC 52, or reorder text). Everything not printable is replaced with a visible
U+FFFD. Stored data stays raw; this runs only at display time.
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
DEFAULT_LIMIT = 500


def display_safe(s: object, limit: int = DEFAULT_LIMIT) -> str:
    """Return `s` with nothing a terminal would interpret.

    Spaces of every kind become a plain space, tabs and newlines too (one line per cell);
    every other non-printable code point (C0/C1 controls incl. ESC, bidi overrides, zero
    widths, private use, unassigned) becomes U+FFFD so the user can see that something was
    there. Long text is cut at `limit` characters with an ellipsis.
    """
    text = "" if s is None else str(s)
    if len(text) <= limit and text.isascii() and text.isprintable():
        return text  # the common case, checked in C: keeps 4 Hz redraws of big tables cheap
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
