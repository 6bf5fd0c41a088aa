"""`--db` and TUI_SCRAPER_DB on every command, with SQLite (`sqlite:DIR`): the real CLI in a
child process, judged by the SQLite files it leaves and by what it prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site

from .helpers import PASSWORD, one_line, run, session_ids

ENV_VAR = "TUI_SCRAPER_DB"


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(8, filler=2)).start()
    yield server
    server.stop()


def _crawl(site: SiteServer, *where: str, env: dict[str, str] | None = None) -> str:
    result = run("crawl", f"{site.base}/", "--headless", *where, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _listed(*where: str, env: dict[str, str] | None = None) -> list[str]:
    result = run("sessions", "--json", *where, env=env)
    assert result.returncode == 0, result.stderr
    return [record["id"] for record in json.loads(result.stdout)]


def test_a_crawl_with_db_sqlite_lands_in_that_data_dir_and_not_the_default(
    tmp_path: Path, isolated_data_dir: Path, site: SiteServer
) -> None:
    chosen = tmp_path / "chosen"
    session_id = _crawl(site, "--db", f"sqlite:{chosen}")
    assert session_ids(chosen) == [session_id]
    assert not isolated_data_dir.exists()  # TUI_SCRAPER_DATA_DIR, the default here: untouched
    # The URL form with an absolute path, before the command or after it: the same store.
    assert _listed("--db", f"sqlite://{chosen}") == [session_id]
    result = run("--db", f"sqlite:{chosen}", "show", session_id[:8], "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["id"] == session_id


def test_the_env_var_and_the_flag_agree_and_the_flag_wins(tmp_path: Path, site: SiteServer) -> None:
    by_env, by_flag = tmp_path / "by-env", tmp_path / "by-flag"
    in_env = _crawl(site, env={ENV_VAR: f"sqlite:{by_env}"})
    assert session_ids(by_env) == [in_env]
    assert _listed(env={ENV_VAR: f"sqlite:{by_env}"}) == _listed("--db", f"sqlite:{by_env}")
    in_flag = _crawl(site, "--db", f"sqlite:{by_flag}", env={ENV_VAR: f"sqlite:{by_env}"})
    assert session_ids(by_flag) == [in_flag] and session_ids(by_env) == [in_env]
    # A flag beats the environment: --data-dir wins over TUI_SCRAPER_DB=sqlite:DIR too.
    assert _listed("--data-dir", str(by_flag), env={ENV_VAR: f"sqlite:{by_env}"}) == [in_flag]


def test_every_command_reaches_the_store_db_names(tmp_path: Path, site: SiteServer) -> None:
    chosen = tmp_path / "chosen"
    where = ("--db", f"sqlite:{chosen}")
    session_id = _crawl(site, *where)
    short = session_id[:8]
    # Each answer names the completed session of `chosen`: found there, not in the default dir.
    for command in (("pause", short), ("cancel", short), ("set", short, "--rate", "2")):
        result = run(*command, *where)
        assert result.returncode == 2 and f"session {short} is not running" in result.stderr
    attach = run("attach", short, *where)
    assert attach.returncode == 2 and f"session {short} is completed" in attach.stderr
    dismiss = run("dismiss", short, *where)
    assert dismiss.returncode == 2 and "only paused or interrupted" in dismiss.stderr
    resume = run("resume", short, "--headless", *where)
    assert resume.returncode == 2 and f"session {short} is completed" in resume.stderr
    export = run("export", short, *where)
    assert export.returncode == 0 and len(export.stdout.splitlines()) == 8
    demo = run("demo", "--headless", *where, timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert len(session_ids(chosen)) == 2
    app = run(*where)  # the app: found the store, then refuses a pipe for a terminal
    assert app.returncode == 2 and "needs a terminal" in app.stderr


def test_db_sqlite_and_a_different_data_dir_are_refused(tmp_path: Path) -> None:
    result = run("sessions", "--db", f"sqlite:{tmp_path / 'a'}", "--data-dir", str(tmp_path / "b"))
    assert result.returncode == 2
    assert "name different data dirs" in one_line(result.stderr)
    same = run("sessions", "--db", f"sqlite:{tmp_path}", "--data-dir", str(tmp_path))
    assert same.returncode == 0, same.stderr


BAD_VALUES = [
    pytest.param("", "is empty", id="empty"),
    pytest.param("   ", "is empty", id="blank"),
    pytest.param(f"mysql://crawler:{PASSWORD}@127.0.0.1/db", "unknown scheme", id="scheme"),
    pytest.param(f"postgresql://crawler:{PASSWORD}@127.0.0.1:port/db", "does not parse", id="port"),
    pytest.param(f"postgresql://crawler:{PASSWORD}@[::1/db", "does not parse", id="bracket"),
    pytest.param(f"postgresql:crawler:{PASSWORD}@127.0.0.1/db", "expected postgresql://", id="s"),
    pytest.param(f"db.example?password={PASSWORD}", "is not a URL", id="not-a-url"),
    pytest.param("sqlite://otherhost/srv/crawls", "no host or parameters", id="sqlite-host"),
    pytest.param("sqlite:", "name the data dir", id="sqlite-empty"),
    pytest.param(f"postgresql://crawler:{PASSWORD}\x1b[31m@127.0.0.1/db", "control", id="esc"),
]


@pytest.mark.parametrize(("value", "said"), BAD_VALUES)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_bad_value_is_one_line_exit_2_nothing_created_password_masked(
    tmp_path: Path, value: str, said: str, how: str
) -> None:
    data_dir = tmp_path / "data"
    args = ("crawl", "http://127.0.0.1:9/", "--headless", "--data-dir", str(data_dir))
    by_flag = how == "flag"
    result = run(*args, "--db", value) if by_flag else run(*args, env={ENV_VAR: value})
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert said in line, line
    assert ("--db" if how == "flag" else ENV_VAR) in line
    assert PASSWORD not in result.stderr + result.stdout
    if PASSWORD in value and "does not parse" in said:
        assert "***" in line
    assert not data_dir.exists() and list(tmp_path.iterdir()) == []


COMMANDS = [
    (),  # the app
    ("crawl", "http://127.0.0.1:9/", "--headless"),
    ("crawl", "http://127.0.0.1:9/", "--detach"),
    ("resume", "abcd1234", "--headless"),
    ("sessions",),
    ("show", "abcd1234"),
    ("export", "abcd1234"),
    ("attach", "abcd1234"),
    ("pause", "abcd1234"),
    ("cancel", "abcd1234"),
    ("set", "abcd1234", "--rate", "2"),
    ("dismiss", "abcd1234"),
    ("demo", "--headless"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] if c else "app")
def test_every_command_refuses_an_unknown_scheme_before_touching_anything(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    data_dir = tmp_path / "data"
    bad = f"mongodb://crawler:{PASSWORD}@127.0.0.1/db"
    result = run("--data-dir", str(data_dir), *command, "--db", bad)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "unknown scheme 'mongodb'" in line and "crawler:***@127.0.0.1" in line, line
    assert PASSWORD not in result.stderr + result.stdout
    assert not data_dir.exists()


def test_help_says_what_db_is() -> None:
    for args in (("--help",), ("crawl", "--help"), ("sessions", "--help")):
        result = run(*args)
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        assert "--db URL" in text and "postgresql://" in text and "TUI_SCRAPER_DB" in text
