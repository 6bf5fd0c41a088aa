"""The export command: a session's pages to a file or standard output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..domain.errors import StorageUnavailable
from ..safe_text import display_safe
from ..service import SessionService
from .errors import EXIT_OK, BadInput, StdoutFailed


async def export_command(service: SessionService, args: argparse.Namespace) -> int:
    to_stdout = args.output in (None, "-")
    out = None if to_stdout else Path(args.output)
    if args.format == "warc" and out is None:
        # Binary never goes to a terminal, and an archive is a file to keep: refused up front.
        raise BadInput("export --format warc needs -o FILE (it is never written to stdout)")
    try:
        count = await service.export(
            args.session,
            args.format,
            out,
            keep_formulas=args.keep_formulas,
            progress=_progress_line() if args.format == "warc" else None,
        )
    except OSError as exc:
        if to_stdout:
            raise StdoutFailed(exc) from None
        raise StorageUnavailable(
            f"cannot write {out}: {exc.strerror or exc}; nothing was replaced"
        ) from None
    if out is not None:
        print(f"wrote {count} pages to {display_safe(out)}", file=sys.stderr)
    return EXIT_OK


def _progress_line() -> Callable[[int, int], None] | None:
    """A progress line on stderr while a long export runs, only when stderr is a terminal (a
    script's log gets the final line alone)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rexporting: {done:,} of {total:,} pages", end=end, file=sys.stderr, flush=True)

    return show
