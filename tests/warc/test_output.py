"""Where a WARC may go: only a regular file, new or replaced atomically. A directory, a FIFO, a
symlink or standard output is one line on stderr, exit 2, and nothing is created or touched;
a session whose stored content is gone is exit 1 with the file still written."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.site import SiteServer, page_html
from hardening.conftest import RUN_CLI, assert_clean_stderr, cli, only_session
from warcio.archiveiterator import ArchiveIterator

from .test_streamed import _big_session


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    server = SiteServer({"/": page_html("Home", ["/a.html"]), "/a.html": page_html("A", [])})
    server.start()
    data = tmp_path_factory.mktemp("warc-out") / "d"
    try:
        result = cli(data, "crawl", server.base + "/", "--headless")
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    yield data, only_session(data)[0]


def _refused(data: Path, session_id: str, *extra: str) -> str:
    result = cli(data, "export", session_id, "--format", "warc", *extra)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert_clean_stderr(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_no_output_file_is_refused(crawled: tuple[Path, str]) -> None:
    data, session_id = crawled
    assert "-o FILE" in _refused(data, session_id)
    assert "-o FILE" in _refused(data, session_id, "-o", "-")


def test_a_directory_is_refused(crawled: tuple[Path, str], tmp_path: Path) -> None:
    data, session_id = crawled
    assert "directory" in _refused(data, session_id, "-o", str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_fifo_is_refused_untouched(crawled: tuple[Path, str], tmp_path: Path) -> None:
    data, session_id = crawled
    fifo = tmp_path / "out.warc.gz"
    os.mkfifo(fifo)
    # Nothing reads the FIFO: an export that opened it would block here until the timeout.
    assert "FIFO" in _refused(data, session_id, "-o", str(fifo))
    assert sorted(os.listdir(tmp_path)) == ["out.warc.gz"]


def test_a_symlink_is_refused_and_its_target_kept(
    crawled: tuple[Path, str], tmp_path: Path
) -> None:
    data, session_id = crawled
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "out.warc.gz"
    link.symlink_to(target)
    assert "symbolic link" in _refused(data, session_id, "-o", str(link))
    assert target.read_text() == "keep me" and link.is_symlink()


def test_an_existing_file_is_replaced_keeping_its_mode(
    crawled: tuple[Path, str], tmp_path: Path
) -> None:
    data, session_id = crawled
    out = tmp_path / "out.warc.gz"
    out.write_bytes(b"old")
    out.chmod(0o640)
    result = cli(data, "export", session_id, "--format", "warc", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "wrote 2 pages" in result.stderr
    assert "exporting" not in result.stderr  # the progress line is for a terminal only
    assert oct(out.stat().st_mode & 0o777) == oct(0o640)
    with out.open("rb") as fh:
        kinds = [r.rec_type for r in ArchiveIterator(fh)]
    assert kinds == ["warcinfo", "response", "request", "response", "request"]
    assert sorted(os.listdir(tmp_path)) == ["out.warc.gz"]  # no temp file left


def test_lost_content_is_exit_1_and_said_once(crawled: tuple[Path, str], tmp_path: Path) -> None:
    data, session_id = crawled
    copy = tmp_path / "d"
    shutil.copytree(data, copy)
    shutil.rmtree(copy / "blobs")
    out = tmp_path / "out.warc.gz"
    result = cli(copy, "export", session_id, "--format", "warc", "-o", str(out))
    assert result.returncode == 1, result.stderr
    assert "missing or damaged" in result.stderr
    assert_clean_stderr(result.stderr)
    with out.open("rb") as fh:
        assert [r.rec_type for r in ArchiveIterator(fh)] == ["warcinfo"]


def test_a_terminal_sees_the_progress_line(crawled: tuple[Path, str], tmp_path: Path) -> None:
    data, session_id = crawled
    out = tmp_path / "out.warc.gz"
    leader, follower = pty.openpty()
    try:
        command = [sys.executable, str(RUN_CLI), "--data-dir", str(data), "export"]
        result = subprocess.run(
            [*command, session_id, "--format", "warc", "-o", str(out)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=120,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child's side is closed and everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert result.returncode == 0, shown
    assert b"exporting: 2 of 2 pages" in shown
    assert b"wrote 2 pages" in shown


async def test_a_full_disk_is_exit_1_and_the_old_file_kept(tmp_path: Path) -> None:
    data = tmp_path / "d"
    # incompressible: the archive outgrows the file-size limit below, the database does not
    session_id = await _big_session(data, pages=2, body=os.urandom(300_000))
    out = tmp_path / "out.warc.gz"
    out.write_bytes(b"the previous archive")
    # Writes past 200 kB fail with EFBIG, as on a full disk: a write error, not lost content.
    result = cli(
        data, "export", session_id, "--format", "warc", "-o", str(out),
        env={"HARDENING_FSIZE": "200000"},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert_clean_stderr(result.stderr)
    assert "cannot write" in result.stderr and "missing or damaged" not in result.stderr
    assert out.read_bytes() == b"the previous archive"
    assert sorted(os.listdir(tmp_path)) == ["d", "out.warc.gz"]
