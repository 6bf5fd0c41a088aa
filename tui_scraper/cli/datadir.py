"""Which store a command uses (the data dir, and a database URL from --db / TUI_SCRAPER_DB),
refused early when it is a typo; how a hint names it again."""

from __future__ import annotations

import argparse
import errno
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.errors import DatabaseError
from ..domain.location import DB_ENV_VAR, BadLocation, StoreLocation, parse_db_value
from ..paths import ENV_VAR, resolve_data_dir, user_data_dir
from ..safe_text import display_safe
from .errors import BadInput
from .output import warn

if TYPE_CHECKING:
    from ..service import SessionService


def choose_location(args: argparse.Namespace) -> StoreLocation:
    """The store the command uses: `--db` (else TUI_SCRAPER_DB) names the database, the data
    dir comes from `--data-dir` as always. `--db sqlite:DIR` names the data dir itself: with a
    different `--data-dir` it is refused; TUI_SCRAPER_DB=sqlite:DIR gives way to `--data-dir`
    (a flag beats the environment) and wins over TUI_SCRAPER_DATA_DIR. Nothing is created."""
    flag = getattr(args, "db", None)
    env = os.environ.get(DB_ENV_VAR)
    where, value = ("--db", flag) if flag is not None else (DB_ENV_VAR, env)
    if value is None:
        return StoreLocation(choose_data_dir(args))
    try:
        choice = parse_db_value(value, where=where)
    except BadLocation as exc:
        raise BadInput(str(exc)) from None
    if choice.sqlite_dir is None:
        return StoreLocation(choose_data_dir(args), choice.url)
    named = getattr(args, "data_dir", None)
    named_dir = Path(named).expanduser().absolute() if named is not None else None
    if flag is not None and named_dir is not None and named_dir != choice.sqlite_dir.absolute():
        raise BadInput(
            f"--db {display_safe(value, 200)!r} and --data-dir "
            f"{display_safe(str(named), 200)!r} name different data dirs: give one of them"
        )
    if named is None:
        args.data_dir = str(choice.sqlite_dir)
    return StoreLocation(choose_data_dir(args))


def choose_data_dir(args: argparse.Namespace) -> Path:
    chosen = getattr(args, "data_dir", None)
    if chosen is not None and not chosen.strip():
        raise BadInput("--data-dir is empty: name a directory")
    env = os.environ.get(ENV_VAR)
    if chosen is None and env is not None and not env.strip():
        raise BadInput(f"{ENV_VAR} is set but empty: name a directory or unset it")
    data_dir = resolve_data_dir(chosen)
    if chosen is None and env is None and not os.environ.get("HOME"):
        # The default comes from the password database then: say where data goes.
        warn(f"HOME is not set; using the data dir {data_dir}")
    _check_chosen_data_dir(data_dir, chosen=chosen is not None)
    return data_dir


def _check_chosen_data_dir(data_dir: Path, *, chosen: bool) -> None:
    """A data dir the user named may be created, but not its parents: a missing parent is most
    likely a typo or a disk that is not mounted, and a tree made there would hide the mistake."""
    chosen = chosen or bool(os.environ.get(ENV_VAR))
    if chosen and not data_dir.exists() and not data_dir.parent.is_dir():
        raise BadInput(f"data dir {data_dir}: {data_dir.parent} does not exist (create it first)")


def can_look_in(data_dir: Path) -> bool:
    """True if a command that only reads can open `data_dir` read-only: an existing directory
    (with or without a database: a missing one reads as no sessions), or a name that could be
    made one (probed with mkdir + rmdir, so a bad place like /proc/x is still refused by the
    normal open with its own message)."""
    if data_dir.is_dir():
        return True
    if os.path.lexists(data_dir):
        return False  # a file or a symlink where the dir should be: refused by the open
    try:
        os.mkdir(data_dir, 0o700)
        os.rmdir(data_dir)
    except OSError:
        return False
    return True


async def open_to_look(location: StoreLocation) -> SessionService:
    """The service of a command that only reads: nothing is created, reaped or collected."""
    from ..service.local import LocalSessionService

    data_dir = location.data_dir
    try:
        return await LocalSessionService.open(location, who="cli", readonly=True)
    except DatabaseError:
        if location.is_postgres or not _on_read_only_medium(data_dir):
            raise
        # SQLite cannot read a WAL database whose -shm it may not create, and says "unable to
        # open database file": name the medium, which is the cause, not the file, which is fine.
        raise BadInput(
            f"data dir {data_dir} cannot be used: "
            f"{os.strerror(errno.EROFS)} (the database needs its -shm file beside it)"
        ) from None


def _on_read_only_medium(data_dir: Path) -> bool:
    try:
        return bool(os.statvfs(data_dir).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def resume_command(short_id: str, where: StoreLocation | Path) -> str:
    """The command that resumes this session: --data-dir included unless it is the default,
    --db with the URL (password masked) for a database named on the command line."""
    return store_command("resume", short_id, where)


def store_command(verb: str, short_id: str, where: StoreLocation | Path) -> str:
    """`tui-scraper VERB ID` with the options that name the same store again."""
    location = where if isinstance(where, StoreLocation) else StoreLocation(Path(where))
    data_dir = location.data_dir
    command = f"tui-scraper {verb} {short_id}"
    if location.db_url is not None and os.environ.get(DB_ENV_VAR) != location.db_url:
        command += f" --db {shlex.quote(location.shown)}"
    if data_dir != user_data_dir() or os.environ.get(ENV_VAR):
        command += f" --data-dir {shlex.quote(str(data_dir))}"
    return display_safe(command, 1000)
