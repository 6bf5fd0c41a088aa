"""A server out of reach, a refused password: the SQLite store's errors for the same situations,
one line each, never with the password."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store
from tui_scraper.backends.postgres.emergency import interrupt_now
from tui_scraper.domain.errors import StorageUnavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nobody listens once it is closed


async def test_an_unreachable_server_is_storage_unavailable_without_the_password() -> None:
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{_closed_port()}/db"
    with pytest.raises(StorageUnavailable) as caught:
        await Store.open(url)
    message = str(caught.value)
    assert "s3cret-pw" not in message and "\n" not in message
    # The database named the way the command line names it: the password masked, never shown.
    assert "someone:***@127.0.0.1" in message and "connection" in message


@pytest.mark.parametrize("readonly", [False, True])
async def test_a_refused_password_is_storage_unavailable_without_it(
    pg_url: str, readonly: bool
) -> None:
    parts = urlsplit(pg_url)
    wrong = pg_url.replace(f":{parts.password}@", ":not-the-Password-42@")
    with pytest.raises(StorageUnavailable) as caught:
        await Store.open(wrong, readonly=readonly)
    message = str(caught.value)
    assert "not-the-Password-42" not in message and str(parts.password) not in message
    assert "password authentication failed" in message and "\n" not in message


def test_the_last_gasp_never_raises_and_is_bounded_when_the_server_is_gone() -> None:
    url = f"postgresql://someone:pw@127.0.0.1:{_closed_port()}/db"
    assert interrupt_now(url, ["a" * 32], reason="exit", who="t", timeout=0.5) == []


async def test_a_server_not_running_our_schema_yet_reads_as_empty(pg_server: PgServer) -> None:
    url = pg_server.empty_database()
    try:
        reader = await Store.open(url, readonly=True)
        try:
            assert await reader.list_sessions() == []
            assert await reader.find_recoverable() == []
        finally:
            await reader.close()
        from .helpers import sql

        assert sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
    finally:
        pg_server.drop(url)
