"""Secret request headers (Authorization, cookies, API keys) kept outside the database.

The database, exports, events and `show --json` hold only the header *names*; the values live in
`<data>/secrets/<session>.json`, created 0600, so a resumed session can send them again, and
they disappear with the session's files. (RELIABILITY-GUIDE §5.5.)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

SECRETS_DIRNAME = "secrets"
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def _path(data_dir: Path, session_id: str) -> Path:
    if not _SESSION_ID.match(session_id):
        raise ValueError(f"bad session id {session_id!r}")
    return data_dir / SECRETS_DIRNAME / f"{session_id}.json"


def save_secret_headers(data_dir: Path, session_id: str, headers: dict[str, str]) -> None:
    if not headers:
        return
    folder = data_dir / SECRETS_DIRNAME
    folder.mkdir(mode=0o700, exist_ok=True)
    path = _path(data_dir, session_id)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(headers, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_secret_headers(data_dir: Path, session_id: str) -> dict[str, str]:
    try:
        text = _path(data_dir, session_id).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    data = json.loads(text)
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
