"""Where tui-scraper keeps its data: `--data-dir`, then TUI_SCRAPER_DATA_DIR, then platformdirs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tui-scraper"
ENV_VAR = "TUI_SCRAPER_DATA_DIR"
DIR_MODE = 0o700
FILE_MODE = 0o600  # every file we create in the data dir is ours alone


def user_data_dir() -> Path:
    """The default data dir (platformdirs: ~/.local/share/tui-scraper on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def resolve_data_dir(cli_value: str | None) -> Path:
    """The data directory the user asked for; nothing is created here."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return user_data_dir()


def ensure_data_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing directory keeps its mode.

    The user may have chosen a shared directory on purpose, so we never chmod one we did not create.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if path.exists():
        raise _refuse(path, "is not a directory")
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        if probe.is_symlink():
            raise _refuse(probe, "is a symlink to nothing")
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        make_private_dir(directory)
    return path


def _refuse(path: Path, why: str) -> Exception:
    from .domain.errors import DatabaseError

    return DatabaseError(f"{path}: {why}")


def mkdir_private(path: Path) -> bool:
    """The one rule for a private directory: mkdir 0700, then chmod, because the umask may
    have taken bits away (or the mode given to mkdir is only an upper bound). True if it was
    made here; False if a directory (or anything) is already there. OSError as it comes."""
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return False
    os.chmod(path, DIR_MODE)
    return True


def make_private_dir(path: Path) -> Path:
    """mkdir_private, with a refusal fit for stderr.

    A file (or a dangling symlink) where the directory should be is refused by name here: the
    error would otherwise surface later as a bare ENOTDIR from whatever opens a file inside."""
    try:
        made = mkdir_private(path)
    except OSError as exc:
        raise _refuse(Path(path), f"cannot create it: {exc.strerror}") from None
    if not made and not os.path.isdir(path):
        raise _refuse(Path(path), "is not a directory")
    return path
