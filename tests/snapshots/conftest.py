"""Snapshot determinism: fixed time zone (the screens show local wall-clock times)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No saved theme of the developer's may change a snapshot."""
    monkeypatch.setenv("TUI_SCRAPER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    return tmp_path / "config"
