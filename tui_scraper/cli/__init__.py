"""Command line: the headless engine and the session history; the TUI is imported lazily.

Exit codes: 0 completed, 1 failed (or the disk refused a write), 2 bad input, 130 interrupted by
a signal, 141 standard output was closed by its reader (as for a tool killed by SIGPIPE).

Standard output carries only results (a session id, a JSON record, a listing, an export), so
scripts can capture it; everything for people goes to stderr, one line per message.

One module per job: `parser` (arguments), `options` (crawl config and secrets from them),
`datadir`, `run` (crawl, resume, demo), `history` (sessions, show), `export_cmd`, and `main`
(dispatch and exit codes). None of them imports Textual; the app is imported only to run it.
"""

from __future__ import annotations

from .datadir import resume_command
from .errors import BadInput
from .main import main
from .options import config_from_args, secret_headers_from_args
from .parser import build_parser

__all__ = [
    "BadInput",
    "build_parser",
    "config_from_args",
    "main",
    "resume_command",
    "secret_headers_from_args",
]
