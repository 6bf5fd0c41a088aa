"""Which data dir a command uses, refused early when it is a typo; how a hint names it again."""

from __future__ import annotations

import argparse
import errno
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.errors import DatabaseError
from ..paths import ENV_VAR, resolve_data_dir, user_data_dir
from ..safe_text import display_safe
from .errors import BadInput
from .output import warn

if TYPE_CHECKING:
    from ..service import SessionService


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


async def open_to_look(data_dir: Path) -> SessionService:
    """The service of a command that only reads: nothing is created, reaped or collected."""
    from ..service.local import LocalSessionService

    try:
        return await LocalSessionService.open(data_dir, who="cli", readonly=True)
    except DatabaseError:
        if not _on_read_only_medium(data_dir):
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


def resume_command(short_id: str, data_dir: Path) -> str:
    """The command that resumes this session, --data-dir included unless it is the default."""
    command = f"tui-scraper resume {short_id}"
    if data_dir != user_data_dir() or os.environ.get(ENV_VAR):
        command += f" --data-dir {shlex.quote(str(data_dir))}"
    return display_safe(command, 1000)
