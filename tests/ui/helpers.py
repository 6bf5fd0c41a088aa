"""Helpers for Pilot tests: read what is on screen as plain text."""

from __future__ import annotations

from textual.app import App


def screen_text(app: App[object]) -> str:
    """Everything the current screen draws (including toasts), one line per terminal row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def toasts(app: App[object]) -> str:
    """The messages of the notifications raised so far (toasts wrap, so read the source)."""
    return "\n".join(n.message for n in app._notifications)
