"""Redraw a label only when its text changed, and re-lay out the screen only when it must.

`Label.update` re-lays out the whole screen by default (its size may have changed). The live
screen's labels change a few times a second with figures that keep their size, so doing that on
every sample made each one repaint far more of the screen than the few cells that moved.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Label


def fits_unwrapped(content: Content, width: int) -> bool:
    """Whether every line of `content` fits in `width` cells (so it takes one row per line)."""
    return width > 0 and all(line.cell_length <= width for line in content.split("\n"))


def needs_layout(old: Content | None, new: Content, width: int) -> bool:
    """Whether drawing `new` where `old` was may change the label's height: it does not when
    both have as many lines and neither wraps."""
    if old is None:
        return True
    if old.plain.count("\n") != new.plain.count("\n"):
        return True
    return not (fits_unwrapped(old, width) and fits_unwrapped(new, width))


def same(old: Content | None, new: Content) -> bool:
    """Same text and styles (`Content.__eq__` compares the text alone)."""
    return old is not None and old.plain == new.plain and old.spans == new.spans


def update_label(label: Label, content: Content, shown: dict[str, Content]) -> bool:
    """Show `content` in `label` unless it already shows it; whether it was redrawn.

    `shown` maps label ids to what they show: the caller's cache (a label cannot be asked what
    it shows without rendering it)."""
    key = label.id or str(id(label))
    old = shown.get(key)
    if same(old, content):
        return False
    label.update(content, layout=needs_layout(old, content, label.content_size.width))
    shown[key] = content
    return True
