"""T40–T44: our own faults stop the crawl resumably; a crawl that achieved nothing is not a success.

Each test runs the real CLI in a child process against a site served on 127.0.0.1 and makes the
fault for real: another connection holding SQLite's write lock, a descriptor limit, blobs/
deleted or replaced by a file, a start URL that refuses, answers 404 or speaks no TLS.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import time
from pathlib import Path

from engine.invariants import assert_store_invariants, connect_ro, page_states
from engine.site import SiteServer, generated_site

from .conftest import assert_clean_stderr, cli, only_session, pages, popen_cli


def _wait_for_done_pages(data: Path, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done = sum(1 for s in page_states(data).values() if s == "done")
        except sqlite3.Error:
            done = 0
        if done >= at_least:
            return done
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} pages done after {timeout} s")


def _hold_write_lock(data: Path) -> sqlite3.Connection:
    """What a sqlite3 shell's BEGIN IMMEDIATE (or a sibling crawl stopped mid-commit) does."""
    conn = sqlite3.connect(data / "scraper.db", isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def _events(data: Path, session_id: str) -> list[str]:
    shown = cli(data, "show", session_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return [e["reason"] for e in json.loads(shown.stdout)["events"]]


def test_locked_database_is_waited_on(tmp_path: Path) -> None:
    """T40a: a lock held longer than SQLite's timeout (5 s) is waited on; the crawl ends well."""
    server = SiteServer(generated_site(1500, filler=10)).start()
    data = tmp_path / "d"
    try:
        args = ("--headless", "--concurrency", "2", "--per-host", "2")
        proc = popen_cli(data, "crawl", server.base + "/", *args)
        _wait_for_done_pages(data, 1)
        lock = _hold_write_lock(data)
        try:
            held_until = time.monotonic() + 8  # the fault lasts 8 s: longer than busy_timeout
            while time.monotonic() < held_until:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.1)
        finally:
            lock.rollback()
            lock.close()
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert_clean_stderr(err)
        assert only_session(data)[1] == "completed"
        assert set(page_states(data).values()) == {"done"}
        assert_store_invariants(data)
    finally:
        server.stop()


def test_lock_held_past_the_bound_stops_resumably(tmp_path: Path) -> None:
    """T40b: past the bound the crawl stops: exit 1 (not the bad-input 2), one line, and the
    session resumes to completion once the lock is free."""
    server = SiteServer(generated_site(1500, filler=10)).start()
    data = tmp_path / "d"
    try:
        args = ("--headless", "--concurrency", "2", "--per-host", "2")
        proc = popen_cli(
            data, "crawl", server.base + "/", *args, env={"TUI_SCRAPER_DB_WAIT_S": "2"}
        )
        _wait_for_done_pages(data, 1)
        lock = _hold_write_lock(data)
        try:
            _out, err = proc.communicate(timeout=120)  # held until the crawl has given up
        finally:
            lock.rollback()
            lock.close()
        assert proc.returncode == 1, err
        assert_clean_stderr(err)
        assert "locked" in err.strip().splitlines()[-1], err
        session_id, _status, _error = only_session(data)
        # The final transition needed the lock too: it is written, or the session is left
        # `running` under a dead lease, which the next start settles as interrupted.
        listed = cli(data, "sessions", "--json")
        assert [s["status"] for s in json.loads(listed.stdout)] == ["interrupted"]
        # None charged; claims of the dead run stay `fetching` until a writer requeues them
        # (`sessions` only reads).
        assert {s for s, _e in pages(data).values()} <= {"done", "queued", "fetching"}
        resumed = cli(data, "resume", session_id[:8], "--headless", timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert only_session(data)[1] == "completed"
        assert set(page_states(data).values()) == {"done"}
        assert_store_invariants(data)
    finally:
        server.stop()


def test_descriptor_limit_caps_concurrency(tmp_path: Path) -> None:
    """T41: `ulimit -n 64` with --concurrency 64: the crawl lowers its concurrency, says so, and
    completes; no page is failed for want of descriptors."""
    server = SiteServer(generated_site(400, filler=10)).start()
    data = tmp_path / "d"
    try:
        args = ("--headless", "--concurrency", "64", "--per-host", "64")
        run = cli(data, "crawl", server.base + "/", *args, env={"HARDENING_NOFILE": "64"})
        assert run.returncode == 0, run.stderr
        assert_clean_stderr(run.stderr)
        session_id, status, _error = only_session(data)
        assert status == "completed"
        assert set(page_states(data).values()) == {"done"}
        assert any(
            "lowered to" in r and "open-files limit is 64" in r for r in _events(data, session_id)
        )
    finally:
        server.stop()


def test_no_descriptor_for_a_parse_worker_stops_resumably(tmp_path: Path) -> None:
    """T41b: a limit so low that no fetch worker can start (EMFILE): not `completed`, exit 0, but
    interrupted with one line; resumed under the normal limit, the crawl completes."""
    server = SiteServer(generated_site(50)).start()
    data = tmp_path / "d"
    try:
        run = cli(data, "crawl", server.base + "/", "--headless", env={"HARDENING_NOFILE": "20"})
        assert run.returncode == 1, run.stderr
        assert_clean_stderr(run.stderr)
        assert any(
            "interrupted" in line and "Too many open files" in line
            for line in run.stderr.splitlines()
        ), run.stderr
        session_id, status, _error = only_session(data)
        assert status == "interrupted"
        assert not [u for u, (s, _e) in pages(data).items() if s == "failed"]
        resumed = cli(data, "resume", session_id[:8], "--headless")
        assert resumed.returncode == 0, resumed.stderr
        assert set(page_states(data).values()) == {"done"}
    finally:
        server.stop()


def test_out_of_memory_is_never_final(tmp_path: Path) -> None:
    """T41c: RLIMIT_AS 85 MB with --concurrency 64 (MemoryError, threads that cannot start): the
    session is interrupted (or, with room to spare, completed), never `failed`, no page is charged
    and it resumes to completion under the normal limit. What the terminal gets is lines, never a
    traceback: not from asyncio's transports, not from its shutdown thread that cannot start."""
    server = SiteServer(generated_site(2000, filler=60)).start()
    data = tmp_path / "d"
    try:
        args = ("--headless", "--concurrency", "64", "--per-host", "64")
        run = cli(data, "crawl", server.base + "/", *args, env={"HARDENING_AS": str(85 << 20)})
        assert_clean_stderr(run.stderr)
        listed = json.loads(cli(data, "sessions", "--json").stdout)
        assert [s["status"] for s in listed] in (["interrupted"], ["completed"]), run.stderr
        assert listed[0]["progress"]["failed"] == 0
        assert not [u for u, (s, _e) in pages(data).items() if s == "failed"]
        if listed[0]["status"] == "interrupted":
            assert run.returncode == 1, run.stderr
            resumed = cli(data, "resume", listed[0]["id"][:8], "--headless", timeout=300)
            assert resumed.returncode == 0, resumed.stderr
        assert set(page_states(data).values()) == {"done"}
        assert_store_invariants(data)
    finally:
        server.stop()


def test_blobs_deleted_mid_crawl_stops_resumably(tmp_path: Path) -> None:
    """T42a: blobs/ removed under a running crawl: interrupted, exit 1, no page failed, and no row
    committed after the removal names a missing blob."""
    server = SiteServer(generated_site(3000, filler=10)).start()
    data = tmp_path / "d"
    try:
        args = ("--headless", "--concurrency", "2", "--per-host", "2")
        proc = popen_cli(data, "crawl", server.base + "/", *args)
        _wait_for_done_pages(data, 20)
        gone = data / "blobs.removed"
        (data / "blobs").rename(gone)  # one atomic step, then deleted: `rm -rf` as seen by us
        shutil.rmtree(gone)
        done_at_removal = sum(1 for s in page_states(data).values() if s == "done")
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err
        assert_clean_stderr(err)
        assert any(
            "interrupted" in line and ("blob" in line or "data dir" in line)
            for line in err.splitlines()
        ), err
        session_id, status, error = only_session(data)
        assert status == "interrupted", (status, error)
        assert not [u for u, (s, _e) in pages(data).items() if s == "failed"]
        db = connect_ro(data)
        try:
            named = db.execute(
                "SELECT raw_html_storage_path FROM pages WHERE status = 'done'"
            ).fetchall()
        finally:
            db.close()
        missing = [p for (p,) in named if p and not (data / p).is_file()]
        # Rows committed before the removal lost their blobs with it (at most one checkpoint
        # could be committing at that moment); none after it.
        assert len(missing) <= done_at_removal + 300
        resumed = cli(data, "resume", session_id[:8], "--headless", timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert only_session(data)[1] == "completed"
        # The pages whose content went with blobs/ were fetched again: every done row's blob
        # is there and matches its hash.
        assert set(page_states(data).values()) == {"done"}
        assert_store_invariants(data)
        if missing:
            assert any("lost their content" in r for r in _events(data, session_id))
    finally:
        server.stop()


def test_blobs_is_a_file_is_a_storage_fault(tmp_path: Path) -> None:
    """T42b: blobs/ replaced by a file: not `completed`, exit 0 — a one-line storage error."""
    server = SiteServer(generated_site(20)).start()
    data = tmp_path / "d"
    try:
        data.mkdir(mode=0o700)
        (data / "blobs").write_bytes(b"not a directory")
        run = cli(data, "crawl", server.base + "/", "--headless")
        # Found before the crawl starts, like a `locks` file or a dangling database symlink:
        # refused in one line naming it (exit 2), the file left as it was, nothing charged.
        assert run.returncode == 2, run.stderr
        assert_clean_stderr(run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "blobs" in lines[0], run.stderr
        assert (data / "blobs").read_bytes() == b"not a directory"
        assert not [u for u, (s, _e) in pages(data).items() if s == "failed"]
    finally:
        server.stop()


def _refused_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on: bound, closed, not reused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_failed_start_url_fails_the_crawl(tmp_path: Path) -> None:
    """T43: a start URL that refuses, answers 404 or fails its TLS handshake ends `failed`, exit 1,
    with the reason printed; never `completed`, exit 0."""
    server = SiteServer({"/": "<title>plain</title>"}).start()
    try:
        cases = {
            "refused": _refused_url(),
            "404": server.base + "/missing.html",
            "tls": server.base.replace("http://", "https://") + "/",
        }
        for name, url in cases.items():
            data = tmp_path / name
            run = cli(data, "crawl", url, "--headless", "--retries", "0", "--timeout", "5")
            assert run.returncode == 1, (name, run.stderr)
            assert_clean_stderr(run.stderr)
            last = run.stderr.strip().splitlines()[-1]
            assert "failed: the start URL failed" in last, (name, last)
            _sid, status, error = only_session(data)
            assert status == "failed" and error and "start URL" in error, (name, status, error)
        assert "HTTP 404" in cli(tmp_path / "404", "sessions", "--json").stdout
        # A refused connection is a connect error, not "robots_unavailable".
        [(_status, error)] = pages(tmp_path / "refused").values()
        assert error is not None and error["kind"] == "connect", error
        # An http URL's error says why in plain words and never mentions TLS.
        assert "Connection refused" in error["message"], error
        assert "ssl" not in error["message"].lower(), error
    finally:
        server.stop()


def test_damaged_blob_is_reported_by_export_and_repaired_by_a_later_crawl(tmp_path: Path) -> None:
    """T44: a blob truncated to 0 bytes: `export` says so (exit 1, one line, the file still
    written); a later session storing the same page verifies the blob and writes it again."""
    server = SiteServer(generated_site(30)).start()
    data = tmp_path / "d"
    try:
        first = cli(data, "crawl", server.base + "/", "--headless")
        assert first.returncode == 0, first.stderr
        db = connect_ro(data)
        try:
            (rel,) = db.execute(
                "SELECT raw_html_storage_path FROM pages WHERE url = ?", (server.base + "/",)
            ).fetchone()
        finally:
            db.close()
        os.truncate(data / rel, 0)
        out = tmp_path / "pages.jsonl"
        session_id = only_session(data)[0]
        exported = cli(data, "export", session_id[:8], "-o", str(out))
        assert exported.returncode == 1, exported.stderr
        assert_clean_stderr(exported.stderr)
        assert "missing or damaged" in exported.stderr and server.base + "/" in exported.stderr
        assert len(out.read_text().splitlines()) == 30  # the rows are still exported
        again = cli(data, "crawl", server.base + "/", "--headless")
        assert again.returncode == 0, again.stderr
        assert (data / rel).stat().st_size > 0
        assert_store_invariants(data)  # every done row's blob matches its hash again
        assert cli(data, "export", session_id[:8], "-o", str(out)).returncode == 0
    finally:
        server.stop()
