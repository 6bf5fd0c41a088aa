"""A PostgreSQL session followed and commanded from "another machine": a crawl started with
`--detach` from data dir A (its worker serves its channel there), and from data dir B (the same
`--db`, no socket of that worker): `show`/`sessions` say running, `attach` in a real terminal
(tmux) shows counters that move, `p` in the app and `pause` on the command line reach the worker
by control record and the state change is seen from both; resumed from A, cancelled from B.
Real CLI processes, real workers, a real PostgreSQL, a site on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tests.postgres.helpers import sql
from tests.worker.helpers import wait_for
from tests.worker.test_app_terminal import SCREEN_TIMEOUT_S, AppInTmux

from .helpers import run

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

PAGES = 400
RATE = "12"  # pages a second: the crawl outlasts the test's steps by far


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES, filler=3)).start()
    yield server
    server.stop()


@pytest.fixture
def machines(pg_url: str) -> Iterator[tuple[Path, Path]]:
    # Short: a worker's socket path (run/<32 hex>.sock) must fit in AF_UNIX's 107 bytes.
    parent = Path(tempfile.mkdtemp(prefix="tsf"))
    yield parent / "a", parent / "b"
    _kill_workers(pg_url)
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def terminal(machines: tuple[Path, Path], tmp_path: Path) -> Iterator[AppInTmux]:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    app = AppInTmux(machines[1], config_dir)
    yield app
    app.tmux("kill-server")


def _kill_workers(pg_url: str) -> None:
    """SIGKILL the workers this test started that still run (a failed test's leftovers)."""
    rows = sql(pg_url, "SELECT owner FROM session_workers")
    rows += sql(pg_url, "SELECT lease_owner FROM sessions WHERE status = 'running'")
    for (owner,) in rows:
        parts = str(owner or "").split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(parts[1]), signal.SIGKILL)


def _cli(pg_url: str, data_dir: Path, *args: str) -> str:
    result = run("--db", pg_url, "--data-dir", str(data_dir), *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _status(pg_url: str, data_dir: Path, session_id: str) -> str:
    return str(json.loads(_cli(pg_url, data_dir, "show", session_id, "--json"))["status"])


def _listed(pg_url: str, data_dir: Path, session_id: str) -> str:
    records = json.loads(_cli(pg_url, data_dir, "sessions", "--json"))
    return str(next(r["status"] for r in records if r["id"] == session_id))


def _seen_from_both(pg_url: str, a: Path, b: Path, session_id: str, status: str) -> None:
    wait_for(
        lambda: _status(pg_url, a, session_id) == status == _status(pg_url, b, session_id),
        timeout=60,
        what=f"{status} seen from both machines",
    )


def _done_on_screen(terminal: AppInTmux) -> int:
    found = re.search(r"done (\d+)", terminal.screen())
    return int(found.group(1)) if found else -1


def _resume_from(pg_url: str, data_dir: Path, session_id: str) -> None:
    _cli(pg_url, data_dir, "resume", session_id, "--detach")
    assert _status(pg_url, data_dir, session_id) == "running"


def test_a_session_run_on_machine_a_is_followed_and_commanded_from_machine_b(
    pg_url: str, site: SiteServer, machines: tuple[Path, Path], terminal: AppInTmux
) -> None:
    a, b = machines
    out = _cli(pg_url, a, "crawl", f"{site.base}/", "--detach", "--rate", RATE)
    session_id = out.strip().splitlines()[-1]
    assert (a / "run" / f"{session_id}.sock").exists()
    assert not (b / "run" / f"{session_id}.sock").exists()

    # B sees it running (its worker's lease is live), never interrupted.
    assert _status(pg_url, b, session_id) == "running"
    assert _listed(pg_url, b, session_id) == "running"

    # attach from B: no channel reaches the worker from here; the database is followed.
    terminal.start("--db", pg_url, "attach", session_id[:8])
    terminal.wait_for("RUNNING")
    wait_for(lambda: _done_on_screen(terminal) > 0, timeout=SCREEN_TIMEOUT_S, what="counters")
    first = _done_on_screen(terminal)
    wait_for(
        lambda: _done_on_screen(terminal) > first + 5,
        timeout=SCREEN_TIMEOUT_S,
        what=f"the done counter moving past {first}",
    )

    # `p` in the app on B: a control record; the worker on A pauses, and B's screen shows it.
    terminal.keys("p")
    terminal.wait_for("PAUSED")
    _seen_from_both(pg_url, a, b, session_id, "paused")
    assert "RUNNING" not in terminal.screen()

    # Resumed from A; `pause` on B's command line says how it got there and what happened.
    _resume_from(pg_url, a, session_id)
    assert _status(pg_url, b, session_id) == "running"
    paused = _cli(pg_url, b, "pause", session_id)
    assert "by a control record" in paused and "in the database" in paused, paused
    _seen_from_both(pg_url, a, b, session_id, "paused")

    # Resumed from A again; `set` from B goes the same way, and the worker on A applies it.
    _resume_from(pg_url, a, session_id)
    tuned = _cli(pg_url, b, "set", session_id, "--rate", "10")
    assert "by a control record" in tuned and "in the database" in tuned, tuned
    wait_for(
        lambda: (
            json.loads(_cli(pg_url, b, "show", session_id, "--json"))["config"]["rate_per_host"]
            == 10
        ),
        timeout=60,
        what="the tuning applied by the worker on A",
    )
    # Cancelled from B: failed (cancelled), seen from both.
    cancelled = _cli(pg_url, b, "cancel", session_id)
    assert "by a control record" in cancelled, cancelled
    _seen_from_both(pg_url, a, b, session_id, "failed")
    done = sql(
        pg_url,
        "SELECT count(*), count(DISTINCT url) FROM pages WHERE session_id = %s AND status = 'done'",
        (session_id,),
    )
    assert done[0][0] == done[0][1] > first  # every page stored once across the three runs
    wait_for(
        lambda: not (a / "run" / f"{session_id}.sock").exists(),
        timeout=30,
        what="A's worker gone",
    )
