"""The app's own preferences (today: the theme), in a small JSON file in the user config dir.

Kept apart from the data directory: settings follow the user, sessions follow `--data-dir`.
`TUI_SCRAPER_CONFIG_DIR` overrides the platform directory (tests use it so they never read or
write the real one). A missing, unreadable or corrupt file means defaults, never a crash: the
app says so once and overwrites it on the next change.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from tui_scraper.paths import APP_NAME, make_private_dir

CONFIG_ENV_VAR = "TUI_SCRAPER_CONFIG_DIR"
SETTINGS_FILE = "settings.json"


def config_dir() -> Path:
    env = os.environ.get(CONFIG_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Settings:
    theme: str | None = None


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    problem: str | None = None  # why the file was ignored, for a notice


def load_settings(directory: Path | None = None) -> Loaded:
    path = (directory or config_dir()) / SETTINGS_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Loaded(Settings())
    except (OSError, UnicodeDecodeError) as exc:
        return Loaded(Settings(), f"Settings file {path} ignored: {exc}")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return Loaded(Settings(), f"Settings file {path} ignored (not valid JSON: {exc})")
    if not isinstance(data, dict):
        return Loaded(Settings(), f"Settings file {path} ignored (not a JSON object)")
    theme = data.get("theme")
    if theme is not None and not isinstance(theme, str):
        return Loaded(Settings(), f"Settings file {path}: theme ignored (not a name)")
    return Loaded(Settings(theme=theme))


def save_settings(settings: Settings, directory: Path | None = None) -> Path:
    """Write atomically (temp file + rename): a crash mid-write leaves the old file whole."""
    folder = directory or config_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    make_private_dir(folder)
    path = folder / SETTINGS_FILE
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".settings-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"theme": settings.theme}, out)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
