"""A PostgreSQL URL to a port where nothing listens: one clear line on stderr, exit 1 (the store
cannot be reached: not bad input, like a full disk), no traceback, the password masked, and
nothing created in the data dir.

Needs the PostgreSQL backend (`tui_scraper.backends.postgres`), not a running server: without
the backend installed the command says so in one line and exits 2, and this test fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import PASSWORD, free_port, one_line, run

COMMANDS = [
    ("sessions", "--json"),
    ("show", "abcd1234"),
    ("crawl", "http://127.0.0.1:9/", "--headless"),
    ("resume", "abcd1234", "--headless"),
    ("dismiss", "abcd1234"),
]


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unreachable_server_is_one_line_exit_1_password_masked(
    tmp_path: Path, command: tuple[str, ...], how: str
) -> None:
    data_dir = tmp_path / "data"
    url = f"postgresql://crawler:{PASSWORD}@127.0.0.1:{free_port()}/crawls?connect_timeout=5"
    args = ("--data-dir", str(data_dir), *command)
    by_flag = how == "flag"
    result = run(*args, "--db", url) if by_flag else run(*args, env={"TUI_SCRAPER_DB": url})
    line = one_line(result.stderr)
    assert result.returncode == 1, line
    assert PASSWORD not in result.stderr + result.stdout
    assert "crawler:***@127.0.0.1" in line  # names the server, masked
    assert not data_dir.exists()
