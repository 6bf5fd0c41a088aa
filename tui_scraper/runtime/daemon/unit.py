"""A systemd user unit that runs the service in the foreground (`service install-unit`).

Written only: nothing is enabled or started (the printed commands do that when the user wants).
A PostgreSQL URL goes into an EnvironmentFile beside it (0600), never into the unit's command.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Final

from ...domain.location import DB_ENV_VAR, StoreLocation
from ...paths import FILE_MODE
from .control import service_argv

UNIT_NAME: Final = "tui-scraper.service"


def unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "systemd" / "user"


def unit_text(location: StoreLocation, parallel: int, env_file: Path | None) -> str:
    command = " ".join(shlex.quote(part) for part in service_argv(location.data_dir, parallel))
    lines = [
        "[Unit]",
        "Description=tui-scraper service: queued sessions and schedules",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={command}",
        "Restart=on-failure",
        "RestartSec=5",
        # Workers started by the service outlive it, as with `service stop`.
        "KillMode=process",
    ]
    if env_file is not None:
        lines.append(f"EnvironmentFile={env_file}")
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def write_unit(location: StoreLocation, parallel: int) -> Path:
    directory = unit_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    env_file: Path | None = None
    if location.db_url is not None:
        env_file = directory / "tui-scraper.env"
        _write(env_file, f"{DB_ENV_VAR}={location.db_url}\n")
    path = directory / UNIT_NAME
    _write(path, unit_text(location, parallel, env_file))
    return path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
