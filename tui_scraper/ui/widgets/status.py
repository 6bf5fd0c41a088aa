"""How a session or page status looks: a word plus a colour, never colour alone (NO_COLOR)."""

from __future__ import annotations

from rich.text import Text

from tui_scraper.domain import PageStatus, Status

# ANSI colour names (not hex) so 16-colour terminals and NO_COLOR degrade to plain words.
STATUS_STYLE: dict[str, str] = {
    Status.PENDING: "dim",
    Status.RUNNING: "bold green",
    Status.PAUSED: "yellow",
    Status.INTERRUPTED: "bold magenta",
    Status.COMPLETED: "green",
    Status.FAILED: "bold red",
    PageStatus.QUEUED: "dim",
    PageStatus.FETCHING: "cyan",
    PageStatus.DONE: "green",
    PageStatus.SKIPPED: "yellow",
    "retry": "yellow",
}


def status_text(status: str | None) -> Text:
    word = str(status or "–")
    return Text(word, style=STATUS_STYLE.get(word, ""))


def http_text(code: int | None) -> Text:
    if code is None:
        return Text("–", style="dim")
    style = "green" if code < 300 else "yellow" if code < 400 else "red"
    return Text(str(code), style=style)
