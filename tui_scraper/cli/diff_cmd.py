"""`diff A B`: what changed between two sessions (service/diff.py does the comparing)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..domain.errors import StorageUnavailable
from ..safe_text import display_safe
from ..service import SessionService
from ..service.diff import DiffSummary, summarize, write_diff
from .errors import EXIT_OK, BadInput, StdoutFailed
from .output import emit
from .run import check_session_ref

__all__ = ["diff_command"]

# How many URLs of each kind the human-readable output lists before "… and N more".
SHOWN_PER_KIND = 20


async def diff_command(service: SessionService, args: argparse.Namespace) -> int:
    if args.output is not None and args.format is None:
        raise BadInput("-o/--output goes with --format jsonl or --format csv")
    if args.format is not None and args.json:
        raise BadInput("--json and --format are two outputs: choose one")
    before = await service.get(check_session_ref(args.a))
    after = await service.get(check_session_ref(args.b))
    if before.id == after.id:
        raise BadInput(f"A and B are the same session ({before.short_id})")
    entries = service.diff(before.id, after.id)
    if args.format is not None:
        to_stdout = args.output in (None, "-")
        out = None if to_stdout else Path(args.output)
        try:
            count = await write_diff(entries, args.format, out)
        except OSError as exc:
            if to_stdout:
                raise StdoutFailed(exc) from None
            raise StorageUnavailable(
                f"cannot write {out}: {exc.strerror or exc}; nothing was replaced"
            ) from None
        if out is not None:
            print(f"wrote {count} differing pages to {display_safe(out)}", file=sys.stderr)
        return EXIT_OK
    summary = await summarize(entries)
    if args.json:
        emit(json.dumps(summary.as_json(), ensure_ascii=False))
        return EXIT_OK
    emit(f"{before.short_id} → {after.short_id}")
    _print_summary(summary)
    return EXIT_OK


def _print_summary(summary: DiffSummary) -> None:
    emit(
        f"added {len(summary.added)}  removed {len(summary.removed)}  "
        f"changed {len(summary.changed)}  unchanged {summary.unchanged}  "
        f"status changes {len(summary.status_changes)}"
    )
    for kind, urls in (
        ("added", summary.added),
        ("removed", summary.removed),
        ("changed", summary.changed),
    ):
        for url in urls[:SHOWN_PER_KIND]:
            emit(f"  {kind:<8} {display_safe(url)}")
        if len(urls) > SHOWN_PER_KIND:
            emit(f"  {kind:<8} … and {len(urls) - SHOWN_PER_KIND} more (--json lists them all)")
    for change in summary.status_changes[:SHOWN_PER_KIND]:
        emit(f"  status   {display_safe(change['url'])}: {change['from']} → {change['to']}")
    if len(summary.status_changes) > SHOWN_PER_KIND:
        more = len(summary.status_changes) - SHOWN_PER_KIND
        emit(f"  status   … and {more} more (--json lists them all)")
