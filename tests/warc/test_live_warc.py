"""`crawl --warc FILE`: records written as pages commit, exactly one per committed page across a
SIGKILL and a resume, with what a kill can leave behind (bytes past the last batch, a batch
committed but not yet journaled) repaired on the next start. The real CLI, a real local site."""

from __future__ import annotations

import collections
import os
import signal
import time
from pathlib import Path

from engine.invariants import connect_ro
from engine.site import SiteServer, generated_site
from hardening.conftest import assert_clean_stderr, cli, only_session, popen_cli
from warcio.archiveiterator import ArchiveIterator

PAGES = 400


def _targets(path: Path) -> collections.Counter[str]:
    with path.open("rb") as fh:
        return collections.Counter(
            r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(fh)
            if r.rec_type in ("response", "revisit", "resource")
        )


def _answered_urls(data: Path) -> set[str]:
    db = connect_ro(data)
    try:
        rows = db.execute(
            "SELECT url FROM pages WHERE response_head IS NOT NULL "
            "AND status IN ('done', 'failed', 'skipped')"
        ).fetchall()
    finally:
        db.close()
    return {url for (url,) in rows}


def _journal_batches(journal: Path) -> list[int]:
    return [int(line[1:]) for line in journal.read_text().splitlines() if line.startswith("@")]


def test_every_committed_page_once_across_a_kill(tmp_path: Path) -> None:
    server = SiteServer(generated_site(PAGES)).start()
    data = tmp_path / "d"
    warc = tmp_path / "live.warc.gz"
    journal = tmp_path / "live.warc.gz.journal"
    try:
        child = popen_cli(
            data, "crawl", server.base + "/", "--headless", "--rate", "100", "--warc", str(warc)
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a few batches in the file, the crawl not done
            if journal.exists() and len(_journal_batches(journal)) >= 4:
                break
            assert child.poll() is None, child.communicate()
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
        written_before = [line for line in journal.read_text().splitlines() if "://" in line]
        assert len(written_before) < PAGES  # killed mid-crawl: the resume has pages to write
        # What a kill at a worse moment leaves: a batch committed whose lines never reached the
        # journal (cut back to an earlier batch), and bytes of a record half written.
        lines = journal.read_text().splitlines(keepends=True)
        marks = [i for i, line in enumerate(lines) if line.startswith("@")]
        journal.write_text("".join(lines[: marks[-2] + 1]))
        with warc.open("ab") as fh:
            fh.write(b"\x1f\x8b\x08\x00half a gzip member")
        session_id = only_session(data)[0]
        resumed = cli(data, "resume", session_id, "--headless")
        assert resumed.returncode == 0, resumed.stderr
        assert_clean_stderr(resumed.stderr)
    finally:
        server.stop()
    counts = _targets(warc)  # the whole file reads: no half member is left in it
    assert max(counts.values()) == 1, [u for u, n in counts.items() if n > 1][:5]
    assert set(counts) == _answered_urls(data)
    assert len(counts) == PAGES


def test_an_existing_file_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    existing = tmp_path / "there.warc.gz"
    existing.write_bytes(b"keep")
    data = tmp_path / "d"
    result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--warc", str(existing))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "exists" in result.stderr
    assert existing.read_bytes() == b"keep" and not data.exists()
    missing = tmp_path / "no-such-folder" / "x.warc.gz"
    result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--warc", str(missing))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not data.exists()


def test_a_file_lost_between_runs_is_written_again_whole(tmp_path: Path) -> None:
    server = SiteServer(generated_site(PAGES)).start()
    data = tmp_path / "d"
    warc = tmp_path / "live.warc.gz"
    journal = tmp_path / "live.warc.gz.journal"
    try:
        child = popen_cli(
            data, "crawl", server.base + "/", "--headless", "--rate", "100", "--warc", str(warc)
        )
        deadline = time.monotonic() + 60
        while not (journal.exists() and len(_journal_batches(journal)) >= 3):
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
        warc.unlink()  # the journal stays, naming records the file no longer has
        resumed = cli(data, "resume", only_session(data)[0], "--headless")
        assert resumed.returncode == 0, resumed.stderr
    finally:
        server.stop()
    counts = _targets(warc)
    assert max(counts.values()) == 1 and len(counts) == PAGES
    assert set(counts) == _answered_urls(data)
