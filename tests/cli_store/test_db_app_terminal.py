"""The app opens the store `--db` names: the real `tui-scraper` in a real terminal (tmux)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.helpers import create_session
from tests.worker.test_app_terminal import AppInTmux

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[AppInTmux]:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    # TUI_SCRAPER_DATA_DIR names the default dir; `--db` must win over it.
    app = AppInTmux(tmp_path / "default", config_dir)
    yield app
    app.tmux("kill-server")


def test_the_app_lists_the_sessions_of_the_store_db_names(
    terminal: AppInTmux, tmp_path: Path
) -> None:
    chosen = tmp_path / "chosen"
    create_session(chosen, "http://127.0.0.1:9/only-in-chosen")
    create_session(tmp_path / "default", "http://127.0.0.1:9/only-in-default")
    terminal.start("--db", f"sqlite:{chosen}")
    terminal.wait_for("only-in-chosen")
    assert "only-in-default" not in terminal.screen()
    terminal.keys("C-q")
