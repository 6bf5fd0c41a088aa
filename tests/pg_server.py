"""A PostgreSQL server for the tests: the one `TUI_SCRAPER_TEST_PG` names, else a private cluster.

The private cluster is made with Debian's binaries (/usr/lib/postgresql/<version>/bin) in a temp
dir, listening on 127.0.0.1 and a free port, and removed when the test session ends. initdb
refuses to run as root, so as root the cluster is made and run by the `postgres` user (a temp
dir it owns). A test that needs PostgreSQL fails when neither is to be had: never a skip, so a
CI run without it cannot pass by leaving the backend out.

Each test gets a database of its own: `new_database()` copies a template that the store has
already migrated (a copy is far cheaper than running the migrations again), `empty_database()`
a bare one for the migration tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROLE = "tui_test"
# Only for the throw-away cluster: it listens on loopback and lives as long as the test session.
PASSWORD = "pw-" + uuid.uuid4().hex[:12]
TEMPLATE = "tui_scraper_template"
# The tables that hold a test's rows (the schema's own, its version and the legal transitions,
# stay): what give_back() empties.
DATA_TABLES = (
    "sessions",
    "pages",
    "downloaded_content",
    "downloads",
    "session_events",
    "session_control",
    "hosts",
    "session_queue",
    "schedules",
    "schedule_runs",
)


class PostgresMissing(RuntimeError):
    """Neither TUI_SCRAPER_TEST_PG nor PostgreSQL's binaries: the test fails, naming the fix."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresMissing(
            "PostgreSQL is not installed: apt-get install postgresql, or set TUI_SCRAPER_TEST_PG "
            "to a URL with the right to create databases"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class PgServer:
    """A server and an admin URL (a role that may create databases)."""

    def __init__(self, admin_url: str, cluster: _Cluster | None) -> None:
        self.admin_url = admin_url
        self.cluster = cluster
        self._template_ready = False
        self._made: set[str] = set()  # dropped at stop() if a test left them
        self._spare: list[str] = []  # given back by finished tests, emptied when handed out

    @classmethod
    def start(cls) -> PgServer:
        given = os.environ.get("TUI_SCRAPER_TEST_PG")
        if given:
            return cls(given, None)
        cluster = _Cluster.create()
        return cls(cluster.admin_url, cluster)

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def empty_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._made.add(name)
        return with_database(self.admin_url, name)

    def new_database(self) -> str:
        """A database that already holds the latest schema and no rows: one a finished test gave
        back (emptied), else a copy of the migrated template."""
        while self._spare:
            url = self._spare.pop()
            if self._emptied(url):
                return url
        self._ensure_template()
        name = "t_" + uuid.uuid4().hex[:16]
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" STRATEGY FILE_COPY')
        self._made.add(name)
        return with_database(self.admin_url, name)

    def give_back(self, url: str) -> None:
        """A finished test's database from new_database(), to be emptied and handed out again
        (far cheaper than creating one; the migration tests use empty_database() and drop)."""
        self._spare.append(url)

    def _emptied(self, url: str) -> bool:
        """Cut whatever the test left connected (a store it abandoned), then remove every row
        but the schema's own. False (and the database dropped) when that fails."""
        name = urlsplit(url).path.lstrip("/")
        try:
            with self._admin() as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid()",
                    (name,),
                )
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SET lock_timeout = '5s'")
                conn.execute(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE")
            return True
        except psycopg.Error:
            self.drop(url)
            return False

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._made.discard(name)

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        from tui_scraper.backends.postgres.migrations import migrate_sync

        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
        with psycopg.connect(with_database(self.admin_url, TEMPLATE), autocommit=True) as conn:
            migrate_sync(conn)
        self._template_ready = True

    def restart(self) -> None:
        """Restart the server; on a server we did not start, cut every connection to the test
        databases instead (what its clients see of a restart)."""
        if self.cluster is not None:
            self.cluster.restart()
            return
        with self._admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                (sorted(self._made),),
            )

    def outage(self, seconds: float) -> None:
        """The server down for `seconds`: stopped (every connection cut, new ones refused),
        then started again. On a server we did not start, the connections to the test databases
        are cut again and again for that long instead."""
        if self.cluster is not None:
            self.cluster.halt()
            time.sleep(seconds)
            self.cluster.start()
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.restart()
            time.sleep(0.05)

    def stop(self) -> None:
        global _SHARED
        _SHARED = None
        if self.cluster is not None:
            self.cluster.stop()
            return
        with contextlib.suppress(psycopg.Error), self._admin() as conn:
            for name in [*sorted(self._made), TEMPLATE]:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_SHARED: PgServer | None = None


def shared() -> PgServer:
    """The test session's server, started on first use (the conftest fixture stops it)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = PgServer.start()
    return _SHARED


class _Cluster:
    def __init__(self, root: Path, bin_dir: Path, port: int, as_postgres: bool) -> None:
        self.root = root
        self.data = root / "data"
        self.bin_dir = bin_dir
        self.port = port
        self.as_postgres = as_postgres
        self.admin_url = f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @classmethod
    def create(cls) -> _Cluster:
        bin_dir = _bin_dir()
        as_postgres = os.geteuid() == 0
        root = Path(tempfile.mkdtemp(prefix="tui-pg-"))
        if as_postgres:
            shutil.chown(root, "postgres", "postgres")
        cluster = cls(root, bin_dir, _free_port(), as_postgres)
        pwfile = root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        cluster._run(
            "initdb",
            "-D",
            str(cluster.data),
            "-U",
            ROLE,
            f"--pwfile={pwfile}",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        settings = (
            "listen_addresses = '127.0.0.1'\n"
            f"port = {cluster.port}\n"
            f"unix_socket_directories = '{root}'\n"
            # Throw-away data: no fsync (the tests restart the server cleanly, never crash it).
            "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
            "max_connections = 200\nshared_buffers = 128MB\n"
        )
        with open(cluster.data / "postgresql.conf", "a") as conf:
            conf.write(settings)
        cluster.start()
        return cluster

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")

    def restart(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-m",
            "fast",
            "-w",
            "restart",
        )

    def halt(self) -> None:
        """Stop the server, keeping its data (start() brings it back)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
