"""Real CLI processes on one PostgreSQL session, one of them stopped with SIGSTOP past its lease
(TUI_SCRAPER_PG_LEASE_S short) and then continued: the others take over its claims and settle
them; woken, it writes nothing over their results (a trigger records any write over a settled
row), and either goes on or ends its part cleanly; the session completes with every page
stored once, and pages fetched twice at most what the stopped process held.

Two cases: a joined worker (`tui-scraper worker`, its worker lease) and the `crawl` that started
the session (its run lease) while a joined worker carries on."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_store.test_worker_command import (
    PAGES,
    Cli,
    _check_stored_once,
    _counts,
    _first_crawl,
    _start,
    _status,
    _worker_id,
)
from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import wait_for

from .helpers import sql
from .settled_guard import overwrites, settled_rows_guarded

# Short, so the test is quick; long enough that a live worker on a loaded machine renews in time.
LEASE_S = 6


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES, filler=3)).start()
    yield server
    server.stop()


@pytest.fixture
def spawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Cli]]:
    monkeypatch.setenv("TUI_SCRAPER_PG_LEASE_S", str(LEASE_S))
    started: list[Cli] = []
    yield started
    for cli in started:
        if cli.proc.poll() is None:
            cli.proc.send_signal(signal.SIGCONT)
            cli.proc.kill()
        cli.proc.wait(30)


def _held(pg_url: str, worker_id: str) -> list[int]:
    rows = sql(
        pg_url,
        "SELECT id FROM pages WHERE lease_owner = %s AND status = 'fetching'",
        (worker_id,),
    )
    return [int(r[0]) for r in rows]


def _all_settled_by_others(pg_url: str, ids: list[int]) -> bool:
    rows = sql(
        pg_url,
        "SELECT count(*) FROM pages WHERE id = ANY(%s) AND status IN ('done', 'failed')",
        (ids,),
    )
    return int(rows[0][0]) == len(ids)


def _stop_past_lease(pg_url: str, victim: Cli, session_id: str, others: list[Cli]) -> list[int]:
    """SIGSTOP `victim` while it holds claims; return them once the others have settled every
    one (its lease lapsed, they took them over and committed them)."""
    pid = victim.proc.pid
    wait_for(
        lambda: (worker := _worker_id(pg_url, pid)) is not None and len(_held(pg_url, worker)) > 0,
        timeout=90,
        what="the victim holding claims",
    )
    victim.proc.send_signal(signal.SIGSTOP)
    worker_id = _worker_id(pg_url, pid)
    assert worker_id is not None
    held = _held(pg_url, worker_id)
    assert held, "the victim held nothing when stopped"
    try:
        wait_for(
            lambda: _all_settled_by_others(pg_url, held),
            timeout=120,
            what="the stopped process's claims settled by the others",
        )
    except AssertionError as exc:
        told = "\n".join(f"[{c.proc.poll()}] {c.stderr()[-600:]}" for c in others)
        raise AssertionError(f"{exc}\n{told}") from None
    assert _status(pg_url, session_id) == "running"
    return held


def test_a_joined_worker_stopped_past_its_lease_writes_nothing_over_the_others(
    pg_url: str, site: SiteServer, tmp_path: Path, isolated_data_dir: Path, spawn: list[Cli]
) -> None:
    with settled_rows_guarded(pg_url):
        session_id = _first_crawl(spawn, tmp_path, pg_url, site)
        steady = _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
        victim = _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
        held = _stop_past_lease(pg_url, victim, session_id, [spawn[0], steady])
        victim.proc.send_signal(signal.SIGCONT)
        # Its lease is gone: it stops its part cleanly (nothing of its batch in hand is
        # written) and exits 0, while the others finish the session.
        assert victim.proc.wait(120) == 0, victim.stderr()
        assert "Traceback" not in victim.stderr()
        assert f"session {session_id[:8]}" in victim.stderr()
        for cli in (spawn[0], steady):
            assert cli.proc.wait(180) == 0, cli.stderr()
        assert overwrites(pg_url) == []
        hits = _check_stored_once(pg_url, session_id, site)
    refetched = sum(n - 1 for n in hits.values())
    assert refetched <= len(held), (refetched, len(held))


def test_the_crawl_stopped_past_its_run_lease_writes_nothing_over_a_joined_worker(
    pg_url: str, site: SiteServer, tmp_path: Path, isolated_data_dir: Path, spawn: list[Cli]
) -> None:
    with settled_rows_guarded(pg_url):
        session_id = _first_crawl(spawn, tmp_path, pg_url, site)
        owner = spawn[0]
        joined = _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
        wait_for(
            lambda: (
                _worker_id(pg_url, joined.proc.pid) is not None
                and _counts(pg_url, session_id).get("done", 0) > 50
            ),
            timeout=90,
            what="the joined worker at work",
        )
        held = _stop_past_lease(pg_url, owner, session_id, [joined])
        owner.proc.send_signal(signal.SIGCONT)
        # The joined worker kept the session alive (nobody took the run over): woken, the
        # crawl either carries on beside it or ends its part; neither writes over its results.
        assert owner.proc.wait(180) in (0, 1), owner.stderr()
        assert "Traceback" not in owner.stderr()
        assert joined.proc.wait(180) == 0, joined.stderr()
        assert overwrites(pg_url) == []
        hits = _check_stored_once(pg_url, session_id, site)
    refetched = sum(n - 1 for n in hits.values())
    assert refetched <= len(held), (refetched, len(held))
