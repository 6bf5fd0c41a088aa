"""Where a session's store is: one value that every command, the app and every worker share.

The data dir is always there: logs, the live channels' sockets, secret headers and (for SQLite)
the lease locks stay on this machine. The database is either the SQLite file in the data dir
(the default, needing nothing) or a PostgreSQL server named by a URL.

A database URL may carry a password, so it is never shown as it is: `masked_url` replaces the
password (in the user part or as a `password=` parameter) by `***`, and `StoreLocation.redact`
takes it out of any text before that text is printed or logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ScraperError

__all__ = [
    "DB_ENV_VAR",
    "POSTGRES_SCHEMES",
    "BadLocation",
    "DatabaseChoice",
    "StoreLocation",
    "masked_url",
    "parse_db_value",
]

# The environment's way to say what `--db` says; the flag wins when both are given.
DB_ENV_VAR: Final = "TUI_SCRAPER_DB"
POSTGRES_SCHEMES: Final = ("postgresql", "postgres")
SQLITE_SCHEME: Final = "sqlite"
MASK: Final = "***"

Backend = Literal["sqlite", "postgresql"]


class BadLocation(ScraperError):
    """A `--db` / TUI_SCRAPER_DB value that names no store; one line, password masked."""


@dataclass(frozen=True)
class StoreLocation:
    """The data dir, and the PostgreSQL URL when the sessions are kept there (None: SQLite in
    the data dir). The URL is left out of repr() so a traceback or a log never shows it."""

    data_dir: Path
    db_url: str | None = field(default=None, repr=False)

    @property
    def backend(self) -> Backend:
        return "sqlite" if self.db_url is None else "postgresql"

    @property
    def is_postgres(self) -> bool:
        return self.db_url is not None

    @property
    def shown(self) -> str:
        """The store for people: the masked URL, or the data dir for SQLite."""
        return str(self.data_dir) if self.db_url is None else masked_url(self.db_url)

    def redact(self, text: str) -> str:
        """`text` with this location's password, if any, replaced by `***`."""
        if self.db_url is None:
            return text
        return redact_password(text, self.db_url)

    def __repr__(self) -> str:
        return f"StoreLocation(data_dir={self.data_dir!r}, db={self.shown!r})"


@dataclass(frozen=True)
class DatabaseChoice:
    """What a `--db` value says: a SQLite data dir, or a PostgreSQL URL."""

    backend: Backend
    sqlite_dir: Path | None = None
    url: str | None = field(default=None, repr=False)


def parse_db_value(value: str, *, where: str) -> DatabaseChoice:
    """Check one `--db` / TUI_SCRAPER_DB value (`where` names it in the message).

    `postgresql://[USER[:PASSWORD]@][HOST][:PORT][/DBNAME][?PARAMS]` (or `postgres://`) names a
    PostgreSQL database; `sqlite:DIR` or `sqlite:///ABSOLUTE/DIR` names the data dir whose
    SQLite database is used, as `--data-dir DIR` does. Anything else is refused (BadLocation),
    the password masked in the message."""
    text = value.strip()
    if not text:
        raise BadLocation(f"{where} is empty: name a database URL (postgresql://…) or unset it")
    if any("\ud800" <= ch <= "\udfff" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        # Never echoed: the value may hold a password, and the bad bytes could be escapes.
        raise BadLocation(f"{where}: the value has control characters or is not valid UTF-8")
    scheme, sep, _rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        raise BadLocation(
            f"{where} {_quoted(text)} is not a URL: use postgresql://USER@HOST/DB, or "
            "sqlite:DIR (or --data-dir DIR) for SQLite"
        )
    if scheme == SQLITE_SCHEME:
        return DatabaseChoice("sqlite", sqlite_dir=_sqlite_dir(text, where))
    if scheme in POSTGRES_SCHEMES:
        _check_postgres_url(text, where)
        return DatabaseChoice("postgresql", url=text)
    raise BadLocation(
        f"{where} {_quoted(text)}: unknown scheme {scheme!r} (postgresql:// or sqlite: are known)"
    )


def _sqlite_dir(text: str, where: str) -> Path:
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise BadLocation(
            f"{where} {_quoted(text)}: a SQLite location is sqlite:DIR or sqlite:///DIR "
            "(a directory on this machine, no host or parameters)"
        )
    path = unquote(parts.path)
    if not path:
        raise BadLocation(f"{where} {_quoted(text)}: name the data dir, e.g. sqlite:///srv/crawls")
    return Path(path).expanduser()


def _check_postgres_url(text: str, where: str) -> None:
    if not text.lower().split(":", 1)[1].startswith("//"):
        raise BadLocation(f"{where} {_quoted(text)}: expected postgresql://HOST/DBNAME")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 — the property is what checks the port
    except ValueError as exc:
        raise BadLocation(f"{where} {_quoted(text)} does not parse: {_plain(exc)}") from None
    if parts.fragment:
        raise BadLocation(f"{where} {_quoted(text)}: a database URL has no #fragment")
    for key, _value in parse_qsl(parts.query, keep_blank_values=True):
        if not key:
            raise BadLocation(f"{where} {_quoted(text)}: a parameter without a name")


def _plain(exc: ValueError) -> str:
    # urllib's messages name the offending piece ("Port could not be cast to integer value as
    # 'x'"), which is never the password but may be part of the host: keep only the kind.
    message = str(exc)
    return "the port is not a number from 0 to 65535" if "ort" in message else "malformed URL"


def _quoted(text: str) -> str:
    shown = masked_url(text)
    return repr(shown if len(shown) <= 120 else shown[:117] + "...")


def masked_url(url: str) -> str:
    """`url` with its password replaced by `***`: in USER:PASSWORD@ (the last @ of the
    authority ends it, as for libpq) and in a `password=` query parameter."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _masked_loosely(url)
    cut = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if at != -1:
            cut = min(cut, at)
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        authority = f"{userinfo}@{host}"
    tail = re.sub(r"(?i)((?:^|[?&])password=)[^&#]*", lambda m: m.group(1) + MASK, tail)
    return f"{scheme}://{authority}{tail}"


def _masked_loosely(text: str) -> str:
    """A value that is not `scheme://…` masked all the same: `SCHEME:USER:PASSWORD@HOST` (a
    forgotten `//`) and any `password=` parameter."""
    text = re.sub(r"(?i)((?:^|[?&\s])password=)[^&#\s]*", lambda m: m.group(1) + MASK, text)
    if "@" not in text:
        return text
    head, host = text.rsplit("@", 1)
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", head)
    start = scheme.end() if scheme else 0
    user, colon, _password = head[start:].partition(":")
    if not colon:
        return text
    return f"{head[:start]}{user}:{MASK}@{host}"


def url_passwords(url: str) -> list[str]:
    """Every password `url` carries, as written and decoded (longest first)."""
    found: list[str] = []
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return found
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        userinfo = authority.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    for match in re.finditer(r"(?i)(?:^|[?&])password=([^&#]*)", rest):
        found.append(match.group(1))
    both = {p for p in found if p} | {unquote(p) for p in found if p}
    return sorted(both, key=len, reverse=True)


def redact_password(text: str, url: str) -> str:
    """`text` with every password of `url` replaced by `***` (the URL itself masked too)."""
    text = text.replace(url, masked_url(url))
    for password in url_passwords(url):
        text = text.replace(password, MASK)
    return text
