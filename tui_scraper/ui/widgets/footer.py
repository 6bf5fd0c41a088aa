"""Textual's Footer, recomposed only when the keys it would show changed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

# What a footer shows of one binding: key, how the key is written, action, description,
# whether it is enabled, tooltip.
KeyShown = tuple[str, str, str, str, bool, str]


class KeysFooter(Footer):
    """A Footer that keeps its keys while they stay the same.

    Footer recomposes (mounts every key widget again and restyles it) at each bindings refresh,
    and Textual refreshes them on every focus change and screen push besides the refreshes a
    screen asks for: the live screen of a starting crawl got several within its first second,
    most of them to the same keys, each costing more than a redraw of everything else.
    """

    def __init__(self) -> None:
        super().__init__()
        # The keys as last composed; None until the footer has composed its keys.
        self._composed: tuple[KeyShown, ...] | None = None

    def compose(self) -> ComposeResult:
        self._composed = self._keys() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self._composed is None:
            super().bindings_changed(screen)
            return
        # As Footer does, but the keys are compared when the recompose would run (after the
        # refresh), not now: what a screen offers may change before then, signal or not.
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return  # its screen was closed meanwhile
        if self._keys() != self._composed:
            await self.recompose()

    def _keys(self) -> tuple[KeyShown, ...]:
        app = self.app
        shown = [
            (
                binding.key,
                app.get_key_display(binding),
                binding.action,
                binding.description,
                enabled,
                tooltip,
            )
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        ]
        palette = self.show_command_palette and app.ENABLE_COMMAND_PALETTE
        shown.append(("", "", "command palette", "", palette, ""))
        return tuple(shown)
