"""Secret request headers (Authorization, cookies, API keys) kept outside the database.

The database, exports, events and `show --json` hold only the header *names*; the values live in
`<data>/secrets/<session>.json`, created 0600, so a resumed session can send them again. The file
is deleted when the session reaches a final state (completed, failed): from then on nothing
can use it, and a secret kept on disk without a use is only a liability.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ...domain.errors import ScraperError
from ...domain.ids import SESSION_ID_RE
from ...paths import mkdir_private

SECRETS_DIRNAME = "secrets"
_SESSION_ID = SESSION_ID_RE


class SecretsDamaged(ScraperError):
    """The secrets file exists but cannot be read back (truncated, edited, not JSON)."""


def secrets_path(data_dir: Path, session_id: str) -> Path:
    if not _SESSION_ID.match(session_id):
        raise ValueError(f"bad session id {session_id!r}")
    return data_dir / SECRETS_DIRNAME / f"{session_id}.json"


def save_secret_headers(data_dir: Path, session_id: str, headers: dict[str, str]) -> None:
    if not headers:
        return
    folder = data_dir / SECRETS_DIRNAME
    mkdir_private(folder)
    path = secrets_path(data_dir, session_id)
    tmp = path.with_suffix(".tmp")
    # A leftover temp from a killed run is ours (the folder is 0700): remove it, then create
    # exclusively, never through a symlink.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(headers, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_secret_headers(data_dir: Path, session_id: str) -> dict[str, str]:
    """The saved headers; {} when there is no file; SecretsDamaged when it cannot be read."""
    path = secrets_path(data_dir, session_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsDamaged(f"{path} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise SecretsDamaged(f"{path} is damaged (not the JSON tui-scraper wrote)") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SecretsDamaged(f"{path} is damaged (not a header table)")
    return {str(k): v for k, v in data.items()}


def secrets_problem(data_dir: Path, session_id: str, names: list[str]) -> str | None:
    """Why the secret headers `names` a session was started with cannot be sent again, or None."""
    try:
        stored = load_secret_headers(data_dir, session_id)
    except SecretsDamaged as exc:
        return str(exc)
    missing = [name for name in names if name not in stored]
    if not missing:
        return None
    if not stored:
        return f"{secrets_path(data_dir, session_id)} is missing"
    return f"{secrets_path(data_dir, session_id)} lacks {', '.join(missing)}"


def delete_secret_headers(data_dir: Path, session_id: str) -> bool:
    """Remove the session's secrets file; True if there was one."""
    try:
        os.unlink(secrets_path(data_dir, session_id))
    except FileNotFoundError:
        return False
    return True
