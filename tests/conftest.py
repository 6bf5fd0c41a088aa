"""Suite-wide fixtures: every test gets its own data directory; nothing touches the real one."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("TUI_SCRAPER_DATA_DIR", str(data_dir))
    # A database URL in the developer's environment would send every CLI test to that server.
    monkeypatch.delenv("TUI_SCRAPER_DB", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    return data_dir
