"""Fixtures of the service tests: a data dir whose service and workers are killed at the end
whatever happened, and a small site on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site

from .helpers import stop_everything


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "d"
    path.mkdir()
    yield path
    stop_everything(path)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(40, filler=2)).start()
    yield server
    server.stop()
