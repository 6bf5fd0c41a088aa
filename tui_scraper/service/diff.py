"""What changed between two sessions: their pages merged by URL, each classified.

Both sessions' pages come from the store in URL order (`ports.PageStates`, code point order on
every backend) and are merged here one row at a time, so a diff of two million-page sessions
holds neither in memory; only `--json`'s URL lists grow with the differences it reports.

A page is *stored* when it is `done` with content. Kinds:
- added: stored in B, not stored in A (absent, or failed/skipped there);
- removed: stored in A, not stored in B (absent, or failing there);
- changed: stored in both, content hash differs; unchanged (counted): the same hash;
- status change (beside any kind): the page is in both and ended differently, HTTP status or
  page state; a 304 counts as the 200 whose content it points at.
"""

from __future__ import annotations

import asyncio
import csv
import difflib
import io
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from ..domain.errors import ConfigError
from ..domain.records import PageState
from ..domain.status import PageStatus
from ..export import neutralise_formula
from ..outfile import open_output, open_stdout
from ..safe_text import display_safe

__all__ = [
    "DIFF_FORMATS",
    "DiffEntry",
    "DiffKind",
    "DiffSummary",
    "merge_states",
    "outcome",
    "page_text",
    "summarize",
    "text_diff",
    "write_diff",
]

DiffKind = Literal["added", "removed", "changed", "unchanged"]
DIFF_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "kind",
    "url",
    "status_changed",
    "before_status",
    "after_status",
    "before_hash",
    "after_hash",
)
FLUSH_ROWS = 500
NOT_MODIFIED = 304


def outcome(state: PageState) -> str:
    """How a page ended, as compared for a status change: its HTTP status when it got one (a
    304 as the 200 it stands for), else its page state (a connection error, a robots skip)."""
    if state.http_status is not None:
        return "200" if state.http_status == NOT_MODIFIED else str(state.http_status)
    return state.status.value


def _stored(state: PageState | None) -> bool:
    return state is not None and state.status is PageStatus.DONE and bool(state.content_hash)


@dataclass(frozen=True)
class DiffEntry:
    url: str
    kind: DiffKind | None  # None: stored in neither (it may still have changed status)
    before: PageState | None
    after: PageState | None

    @property
    def status_changed(self) -> bool:
        a, b = self.before, self.after
        return a is not None and b is not None and outcome(a) != outcome(b)

    @property
    def differs(self) -> bool:
        return self.kind in ("added", "removed", "changed") or self.status_changed

    def row(self) -> dict[str, Any]:
        a, b = self.before, self.after
        return {
            "kind": self.kind or "status",
            "url": self.url,
            "status_changed": self.status_changed,
            "before_status": None if a is None else outcome(a),
            "after_status": None if b is None else outcome(b),
            "before_hash": None if a is None else a.content_hash,
            "after_hash": None if b is None else b.content_hash,
        }


def classify(url: str, before: PageState | None, after: PageState | None) -> DiffEntry:
    kind: DiffKind | None
    if _stored(before) and _stored(after):
        assert before is not None and after is not None
        kind = "unchanged" if before.content_hash == after.content_hash else "changed"
    elif _stored(after):
        kind = "added"
    elif _stored(before):
        kind = "removed"
    else:
        kind = None
    return DiffEntry(url, kind, before, after)


async def merge_states(
    before: AsyncIterator[PageState], after: AsyncIterator[PageState]
) -> AsyncIterator[DiffEntry]:
    """Every URL of either stream, in URL order, classified. Both must be in URL order."""
    a = await anext(before, None)
    b = await anext(after, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.url < b.url):
            assert a is not None
            yield classify(a.url, a, None)
            a = await anext(before, None)
        elif a is None or b.url < a.url:
            yield classify(b.url, None, b)
            b = await anext(after, None)
        else:
            yield classify(a.url, a, b)
            a = await anext(before, None)
            b = await anext(after, None)


@dataclass
class DiffSummary:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    status_changes: list[dict[str, str]] = field(default_factory=list)

    def add(self, entry: DiffEntry) -> None:
        if entry.kind == "unchanged":
            self.unchanged += 1
        elif entry.kind is not None:
            getattr(self, entry.kind).append(entry.url)
        if entry.status_changed:
            assert entry.before is not None and entry.after is not None
            self.status_changes.append(
                {"url": entry.url, "from": outcome(entry.before), "to": outcome(entry.after)}
            )

    def as_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "status_changes": self.status_changes,
        }


async def summarize(entries: AsyncIterator[DiffEntry]) -> DiffSummary:
    summary = DiffSummary()
    async for entry in entries:
        summary.add(entry)
    return summary


def _format(rows: list[dict[str, Any]], fmt: str, header: bool) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    if header:
        writer.writeheader()
    for row in rows:
        # A URL is the site's text: a spreadsheet must never run it as a formula.
        writer.writerow(
            {k: neutralise_formula(v) if isinstance(v, str) else v for k, v in row.items()}
        )
    return buffer.getvalue()


async def write_diff(entries: AsyncIterator[DiffEntry], fmt: str, path: Path | None) -> int:
    """One row per page that differs, streamed to `path` (replaced atomically, see outfile.py)
    or stdout; returns how many. Unchanged pages are not written."""
    if fmt not in DIFF_FORMATS:
        raise ConfigError("format", f"must be one of {', '.join(DIFF_FORMATS)}")
    if path is None or str(path) == "-":
        out = open_stdout()
    else:
        out = await asyncio.to_thread(open_output, path)
    with out:
        to_terminal = out.is_terminal
        count = 0
        header = True
        pending: list[dict[str, Any]] = []

        async def flush() -> None:
            nonlocal header
            rows = pending
            if to_terminal:
                rows = [{k: _visible(v) for k, v in r.items()} for r in rows]
            text = _format(rows, fmt, header)
            header = False
            await asyncio.to_thread(out.write, text.encode("utf-8"))

        async for entry in entries:
            if not entry.differs:
                continue
            pending.append(entry.row())
            if len(pending) >= FLUSH_ROWS:
                await flush()
                count += len(pending)
                pending = []
        if pending or header:
            await flush()
            count += len(pending)
        await asyncio.to_thread(out.commit)
    return count


def _visible(value: Any) -> Any:
    return display_safe(value, 10_000) if isinstance(value, str) else value


class _TextOf(HTMLParser):
    """The text a reader sees, one line per block of text: what a page's diff compares."""

    _HIDDEN = frozenset({"script", "style", "template", "noscript", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        for line in data.splitlines():
            text = " ".join(line.split())
            if text:
                self.lines.append(text)


def page_text(body: bytes, encoding: str | None) -> list[str]:
    """The visible text of a stored HTML page, line by line (the standard library's tolerant
    parser: the service loads no engine, and a diff needs the words, not the DOM)."""
    try:
        html = body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # an encoding name Python does not know
        html = body.decode("utf-8", errors="replace")
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return parser.lines


def text_diff(
    before: Iterable[str], after: Iterable[str], *, before_name: str, after_name: str
) -> list[str]:
    """A unified diff (difflib) of two pages' text lines."""
    return list(
        difflib.unified_diff(
            list(before), list(after), fromfile=before_name, tofile=after_name, lineterm=""
        )
    )
