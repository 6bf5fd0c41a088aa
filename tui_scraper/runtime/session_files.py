"""What a client asks about a session's files beside the database: who holds its lease, and
what became of its secret headers.

Apart from `preflight.py` on purpose: these answers need only the storage, never the engine, so
the commands that ask them (`sessions`, `show`, `pause`, `attach`, ...) start without loading
the crawler, its HTTP stack or its parser.

The lease answers here read SQLite's lock files in the data dir. A session kept in PostgreSQL has
its lease in the database: `SessionManager.lease_holder` asks the open store for it instead.
Secret headers stay in the local data dir whatever the backend.
"""

from __future__ import annotations

from pathlib import Path

from ..backends.sqlite.lease import owner_alive, read_owner
from ..backends.sqlite.secrets import delete_secret_headers, secrets_problem


def missing_secrets(data_dir: Path, session_id: str, names: list[str]) -> str | None:
    """Why the secret headers `names` a session was started with cannot be sent again, or None."""
    return secrets_problem(data_dir, session_id, names)


def forget_secrets(data_dir: Path, session_id: str) -> bool:
    """Remove the session's secret headers; True if there were any."""
    return delete_secret_headers(data_dir, session_id)


def worker_alive(data_dir: Path, session_id: str) -> bool:
    """Whether a live process holds the session's lease (asked without writing anything): the
    proof of life a client watching a worker in another process relies on."""
    return owner_alive(Path(data_dir), session_id)


def lease_holder(data_dir: Path, session_id: str) -> dict[str, object] | None:
    """Who holds the session's lease now (pid, host, start, run_id), or None when nobody does.
    The lock itself is the truth; what it records is only for showing."""
    if not owner_alive(Path(data_dir), session_id):
        return None
    return read_owner(Path(data_dir), session_id)


__all__ = ["forget_secrets", "lease_holder", "missing_secrets", "worker_alive"]
