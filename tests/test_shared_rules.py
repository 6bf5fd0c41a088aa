"""Rules that live once and are used by every layer: figures, session ids, scope names,
private directories (units: each is a small pure function or a mkdir)."""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_scraper import formatting
from tui_scraper.backends.sqlite.blobs import BlobStore
from tui_scraper.backends.sqlite.secrets import save_secret_headers
from tui_scraper.cli import build_parser
from tui_scraper.domain.config import SCOPES
from tui_scraper.domain.ids import is_session_id, is_session_ref


def test_the_app_and_the_cli_share_one_formatter() -> None:
    from tui_scraper.ui import text

    for name in ("human_bytes", "human_duration", "human_ms", "human_rate", "human_time"):
        assert getattr(text, name) is getattr(formatting, name), name
    assert formatting.human_rate(0.5) == "0.5 pages/s"
    assert formatting.human_rate(None) == "–"


def test_session_ids_and_refs() -> None:
    assert is_session_id("0123456789abcdef" * 2)
    assert not is_session_id("0123456789ABCDEF" * 2)  # stored ids are lowercase
    assert not is_session_id("../" + "0" * 29)
    assert not is_session_id("0" * 32 + "\n")
    assert is_session_ref("3F5f")
    assert not is_session_ref("") and not is_session_ref("3f5g") and not is_session_ref("3f\n")


def _crawl_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices["crawl"]
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def test_scope_choices_are_the_configs() -> None:
    scope = next(a for a in _crawl_parser()._actions if a.dest == "scope")
    assert tuple(scope.choices or ()) == SCOPES


@pytest.fixture
def strict_umask() -> Iterator[None]:
    # 0o277 takes the owner's write bit: a mode given to mkdir alone would give 0o500.
    old = os.umask(0o277)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("strict_umask")
def test_private_dirs_are_0700_whatever_the_umask(tmp_path: Path) -> None:
    os.umask(0o022)
    data = tmp_path / "d"
    data.mkdir()
    os.umask(0o277)
    save_secret_headers(data, "0" * 32, {"Authorization": "x"})
    BlobStore(data / "blobs").write(b"body")
    for folder in (data / "secrets", data / "blobs", *(data / "blobs").iterdir()):
        if folder.is_dir():
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
