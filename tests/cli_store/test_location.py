"""StoreLocation and the parsing of `--db` values: units (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_scraper.domain.location import (
    BadLocation,
    StoreLocation,
    masked_url,
    parse_db_value,
    redact_password,
)

from .helpers import PASSWORD


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://crawler:{PASSWORD}@db.local:5433/crawls", "crawler:***@db.local:5433"),
        (f"postgres://crawler:{PASSWORD}@[::1]/crawls", "crawler:***@[::1]/crawls"),
        # An unescaped @ in the password: the last @ of the authority ends it, as for libpq.
        (f"postgresql://crawler:pa@{PASSWORD}@db.local/crawls", "crawler:***@db.local/crawls"),
        (f"postgresql://db.local/crawls?sslmode=require&password={PASSWORD}", "password=***"),
        (f"postgresql://db.local/crawls?PASSWORD={PASSWORD}&x=1", "PASSWORD=***&x=1"),
        ("postgresql://crawler@db.local/crawls", "postgresql://crawler@db.local/crawls"),
        (f"postgresql:crawler:{PASSWORD}@db.local/crawls", "postgresql:crawler:***@db.local"),
        (f"db.local?password={PASSWORD}", "db.local?password=***"),
    ],
)
def test_masked_url_never_shows_the_password(url: str, shown: str) -> None:
    masked = masked_url(url)
    assert shown in masked and PASSWORD not in masked
    assert "pa@" not in masked


def test_redact_takes_the_password_out_of_any_text_encoded_or_not() -> None:
    url = f"postgresql://crawler:{PASSWORD}%21@db.local/crawls"
    text = f"cannot connect to {url}: password {PASSWORD}! refused"
    redacted = redact_password(text, url)
    assert PASSWORD not in redacted and "crawler:***@db.local" in redacted
    location = StoreLocation(Path("/d"), url)
    assert PASSWORD not in repr(location) and PASSWORD not in location.shown
    assert PASSWORD not in location.redact(text)
    assert StoreLocation(Path("/d")).redact(text) == text


def test_parse_tells_the_backends_apart() -> None:
    pg = parse_db_value("  postgresql://crawler@db.local/crawls ", where="--db")
    assert pg.backend == "postgresql" and pg.url == "postgresql://crawler@db.local/crawls"
    assert parse_db_value("POSTGRES://h/x", where="--db").backend == "postgresql"
    assert parse_db_value("sqlite:rel/dir", where="--db").sqlite_dir == Path("rel/dir")
    assert parse_db_value("sqlite:///abs/dir", where="--db").sqlite_dir == Path("/abs/dir")
    assert parse_db_value("sqlite://localhost/abs", where="--db").sqlite_dir == Path("/abs")
    assert parse_db_value("sqlite:~/d", where="--db").sqlite_dir == Path("~/d").expanduser()
    with pytest.raises(BadLocation, match="--db is empty"):
        parse_db_value("", where="--db")
    with pytest.raises(BadLocation, match="not valid UTF-8"):
        parse_db_value("postgresql://h/\udcff", where="TUI_SCRAPER_DB")


def test_a_location_is_sqlite_unless_it_has_a_url() -> None:
    assert StoreLocation(Path("/d")).backend == "sqlite"
    assert not StoreLocation(Path("/d")).is_postgres
    pg = StoreLocation(Path("/d"), "postgresql://h/x")
    assert pg.backend == "postgresql" and pg.is_postgres and pg.shown == "postgresql://h/x"


def test_a_resume_hint_names_the_same_store_password_masked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tui_scraper.cli.datadir import resume_command

    url = f"postgresql://crawler:{PASSWORD}@db.local/crawls"
    monkeypatch.delenv("TUI_SCRAPER_DB", raising=False)
    hint = resume_command("3f2a", StoreLocation(tmp_path, url))
    assert "--db 'postgresql://crawler:***@db.local/crawls'" in hint and PASSWORD not in hint
    assert f"--data-dir {tmp_path}" in hint
    # Given by the environment, the URL is there again for the next command: not repeated.
    monkeypatch.setenv("TUI_SCRAPER_DB", url)
    assert "--db" not in resume_command("3f2a", StoreLocation(tmp_path, url))
    assert "--db" not in resume_command("3f2a", tmp_path)
