"""Command palette entries for every action, next to Textual's built-in ones.

Labels can contain URLs, so hits are built as `Content` (a `str` prompt is parsed as markup,
and `Matcher.highlight(str)` calls `Content.from_markup`); help texts are ours only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from .text import display_safe

if TYPE_CHECKING:
    from .app import ScraperApp

Command = tuple[str, Callable[[], Any], str]


def highlight(matcher: Matcher, text: str) -> Content:
    """`Matcher.highlight` without the markup parse: style the matched offsets of plain text."""
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if not score:
        return content
    for offset in offsets:
        if offset < len(text) and not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class ScraperCommands(Provider):
    def commands(self) -> list[Command]:
        app = cast("ScraperApp", self.app)
        found: list[Command] = [
            ("New session", app.show_new_session, "Open the new-session form (n)"),
            ("Sessions list", _go_home(app), "Back to the list of sessions"),
            ("Recover interrupted sessions", app.show_recovery, "Resume or dismiss"),
        ]
        screen_commands = getattr(self.screen, "palette_commands", None)
        if callable(screen_commands):
            found += screen_commands()
        # Every label is sanitised once here, so its offsets match what the matcher sees.
        return [(display_safe(label, 120), run, help_text) for label, run, help_text in found]

    async def discover(self) -> Hits:
        for label, run, help_text in self.commands():
            yield DiscoveryHit(Content(label), run, text=label, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, run, help_text in self.commands():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, highlight(matcher, label), run, text=label, help=help_text)


def _go_home(app: ScraperApp) -> Callable[[], Any]:
    def go() -> None:
        from .screens.sessions import SessionsScreen

        # Pop back to the home screen (the first pushed), whatever is open above it.
        while len(app.screen_stack) > 2 and not isinstance(app.screen, SessionsScreen):
            app.pop_screen()

    return go
