"""The export command: a session's pages to a file or standard output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..domain.errors import StorageUnavailable
from ..safe_text import display_safe
from ..service import SessionService
from .errors import EXIT_OK, StdoutFailed


async def export_command(service: SessionService, args: argparse.Namespace) -> int:
    to_stdout = args.output in (None, "-")
    out = None if to_stdout else Path(args.output)
    try:
        count = await service.export(
            args.session, args.format, out, keep_formulas=args.keep_formulas
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
