"""SQLite users never pay for the PostgreSQL driver: nothing on their path imports psycopg."""

from __future__ import annotations

import subprocess
import sys


def test_the_sqlite_path_and_the_cli_never_import_psycopg() -> None:
    code = (
        "import sys\n"
        "import tui_scraper.backends.sqlite, tui_scraper.cli, tui_scraper.runtime.manager\n"
        "import tui_scraper.backends.sqlite.emergency, tui_scraper.service.local\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')"
        " or m.startswith('tui_scraper.backends.postgres')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
