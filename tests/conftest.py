"""Suite-wide fixtures: every test gets its own data directory; nothing touches the real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.pg_server import PgServer


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


# PostgreSQL: one server for the whole test session (TUI_SCRAPER_TEST_PG, else a private cluster
# it starts and removes); each test that asks gets a database of its own. Fails, never skips,
# when PostgreSQL cannot be had (tests/pg_server.py).
@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    from tests.pg_server import shared

    yield shared()  # stopped by pytest_sessionfinish below


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database holding the latest schema."""
    url = pg_server.new_database()
    try:
        yield url
    finally:
        pg_server.give_back(url)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the PostgreSQL server if anything started it (the contract suite's harness may,
    without the fixture)."""
    import sys

    module = sys.modules.get("tests.pg_server")
    server = getattr(module, "_SHARED", None) if module is not None else None
    if server is not None:
        server.stop()
