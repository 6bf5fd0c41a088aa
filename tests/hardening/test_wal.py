"""T25: the WAL stays bounded while a crawl writes and `export` reads the same session from
another process, again and again; once the readers are gone a clean close truncates it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path

from engine.invariants import assert_store_invariants, connect_ro, page_states
from engine.site import SiteServer, generated_site

from tui_scraper.backends.sqlite import Store

from .conftest import assert_clean_stderr, cli, only_session, popen_cli

WAL_BOUND = 64 * 1024 * 1024
N_PAGES = 800


def test_wal_bounded_during_long_reads(tmp_path: Path) -> None:
    server = SiteServer(generated_site(N_PAGES, filler=120)).start()
    data = tmp_path / "d"
    wal = data / "scraper.db-wal"
    sizes: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                sizes.append(wal.stat().st_size)
            except FileNotFoundError:
                sizes.append(0)
            time.sleep(0.02)

    def long_reader() -> None:
        # A slow reader (a long export, a history screen left open) pins its snapshot: the WAL
        # cannot be reset behind it and grows until the reader lets go.
        while not stop.is_set():
            try:
                db = connect_ro(data)
                db.execute("BEGIN")
                db.execute("SELECT count(*) FROM pages").fetchone()
                stop.wait(2.0)
                db.execute("COMMIT")
                db.close()
            except sqlite3.OperationalError:
                time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    reader = threading.Thread(target=long_reader, daemon=True)
    try:
        proc = popen_cli(data, "crawl", server.base + "/", "--headless", "--concurrency", "8")
        deadline = time.monotonic() + 30
        while not (data / "scraper.db").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        sampler.start()
        reader.start()
        while True:  # wait for the session row, then export while the crawl writes
            try:
                session_id = only_session(data)[0]
                break
            except Exception:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        exports = 0
        while proc.poll() is None:
            out = tmp_path / "pages.jsonl"
            result = cli(data, "export", session_id[:8], "-o", str(out), timeout=60)
            assert result.returncode == 0, result.stderr
            urls = [json.loads(line)["url"] for line in out.read_text().splitlines()]
            assert len(urls) == len(set(urls))  # one consistent snapshot: no page twice
            exports += 1
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert_clean_stderr(err)
        stop.set()
        sampler.join(5)
        reader.join(5)
        assert exports >= 2, "the crawl ended before any concurrent export"
        print(f"{exports} exports; WAL max {max(sizes) / 1e6:.1f} MB over {len(sizes)} samples")
        assert max(sizes) < WAL_BOUND
        # The crawl's own close could not reset the WAL under the long reader's snapshot; once
        # that reader is gone, the next writer's clean close checkpoints and truncates it.
        # (`sessions` and the other reading commands write nothing, so they never do.)
        asyncio.run(_open_and_close_writable(data))
        assert not wal.exists() or wal.stat().st_size == 0
        states = page_states(data)
        assert sum(1 for s in states.values() if s == "done") == N_PAGES
        assert_store_invariants(data)
    finally:
        stop.set()
        server.stop()


async def _open_and_close_writable(data: Path) -> None:
    store = await Store.open(data)
    await store.close()
