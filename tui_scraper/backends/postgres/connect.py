"""Opening connections, and turning psycopg's errors into the program's domain errors.

Every message names the database as `postgresql://user@host:port/db`, never with its password,
and is one line: psycopg's own texts can span several and may quote the connection string.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg

from ...domain.errors import DatabaseError, StorageUnavailable
from ...domain.location import masked_url

CONNECT_TIMEOUT_S = 10
# Server-side guards for every connection: a statement or a lock wait never hangs a crawl, and a
# transaction left open by a stuck client is ended by the server.
_OPTIONS = "-c statement_timeout=120000 -c lock_timeout=60000"
# A worker stopped in the middle of a checkpoint (SIGSTOP, a paused VM) holds the session row's
# lock, and every other worker's checkpoint waits for it: its transaction is ended once it has
# been idle as long as a lease, the time after which the others take its claims over anyway
# (and well under lock_timeout, so the waiting checkpoints get through).
_IDLE_IN_TRANSACTION_MAX_MS = 300_000
_LEASE_DEFAULT_S = 30.0
# SQLSTATE classes that mean "the server is out of reach or refusing work for now".
_UNAVAILABLE_CLASSES = ("08", "53", "57")
# ... and single states: our transaction was ended by the idle-in-transaction guard (rolled
# back, so what is safe to repeat is tried again).
_UNAVAILABLE_STATES = ("25P03",)


class ServerUnreachable(StorageUnavailable):
    """The server is out of reach or refusing work for now (connection lost, restarting, too
    many clients): what a retry may get past. Refused auth and missing content are not this."""


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def shown(url: str) -> str:
    """The URL for people: its password (in the authority or a `password=` option) masked, the
    same spelling the command line uses, so a message never names the database twice."""
    return masked_url(url)


def _secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [unquote(p) for p in found]
    env = os.environ.get("PGPASSWORD")
    if env:
        found.append(env)
    return [s for s in found if s]


def one_line(url: str, exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def translate(url: str, exc: BaseException) -> DatabaseError:
    """A psycopg error → StorageUnavailable (the server is out of reach: not final, a crawl stops
    resumably) or DatabaseError (anything else)."""
    where = shown(url)
    text = one_line(url, exc)
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.AdminShutdown) or (
        isinstance(exc, psycopg.Error)
        and exc.sqlstate is not None
        and (exc.sqlstate[:2] in _UNAVAILABLE_CLASSES or exc.sqlstate in _UNAVAILABLE_STATES)
    ):
        cls = StorageUnavailable if "authentication failed" in text else ServerUnreachable
        return cls(f"{where}: {text}")
    return DatabaseError(f"{where}: {text}")


def idle_in_transaction_ms() -> int:
    """The idle-in-transaction guard: one lease (TUI_SCRAPER_PG_LEASE_S), 1 s to 300 s."""
    try:
        lease = float(os.environ.get("TUI_SCRAPER_PG_LEASE_S", _LEASE_DEFAULT_S))
    except ValueError:
        lease = _LEASE_DEFAULT_S
    if not lease > 0:
        lease = _LEASE_DEFAULT_S
    return int(min(max(lease * 1000, 1000), _IDLE_IN_TRANSACTION_MAX_MS))


def connect_kwargs(*, readonly: bool) -> dict[str, Any]:
    options = f"{_OPTIONS} -c idle_in_transaction_session_timeout={idle_in_transaction_ms()}"
    options += " -c default_transaction_read_only=on" if readonly else ""
    return {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "options": options,
        "application_name": "tui-scraper",
    }


async def connect(url: str, *, readonly: bool) -> psycopg.AsyncConnection[Any]:
    """One autocommit connection; StorageUnavailable when the server is out of reach or refuses
    us (the password is never in the message)."""
    try:
        return await psycopg.AsyncConnection.connect(url, **connect_kwargs(readonly=readonly))
    except psycopg.Error as exc:
        raise translate(url, exc) from None


def connect_sync(
    url: str, *, readonly: bool = False, timeout: float | None = None
) -> psycopg.Connection[Any]:
    kwargs = connect_kwargs(readonly=readonly)
    if timeout is not None:
        kwargs["connect_timeout"] = max(1, int(timeout + 0.999))
    try:
        return psycopg.Connection.connect(url, **kwargs)
    except psycopg.Error as exc:
        raise translate(url, exc) from None
