"""Fixtures of the worker tests: a generated site on 127.0.0.1 and a data dir whose workers are
killed at the end whatever happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site

from .helpers import kill_workers


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "d"
    path.mkdir()
    yield path
    kill_workers(path)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(60, filler=5)).start()
    yield server
    server.stop()
