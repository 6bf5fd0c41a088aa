"""`export -o PATH` never replaces what is not a regular file, never follows a planted symlink,
keeps the mode of the file it replaces, leaves no temp file behind, and shows untrusted text
safely on a terminal while a file or a pipe gets it exactly (T26, T27, T28).

The real CLI runs in a child process against one crawl of a local site. Nothing here touches
the machine's /dev/null or /dev/stdout: the targets are FIFOs, character devices and symlinks
this test creates in its own tmp dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import fcntl
import io
import json
import os
import pty
import select
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.site import SiteServer, page_html

from .conftest import RUN_CLI, assert_clean_stderr, cli, only_session
from .namespace import run_in_mount_namespace, unshare_available

EVIL_TITLE = "PWN\x1b]0;EVILTITLE\x07X\x1b]52;c;cHduZWQ=\x07Y\x1b[2J\x1bPdcs\x1b\\\x9b31mZ\u202eQ"
FORMULA_TITLE = '=HYPERLINK("http://127.0.0.1:9/x","click")'
FORBIDDEN = {
    "ESC (CSI, OSC 0, OSC 52, DCS)": b"\x1b",
    "C1 CSI": "\x9b".encode(),
    "bidi override": "\u202e".encode(),
    "BEL": b"\x07",
}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    site = {
        "/": page_html("Home", ["/evil.html", "/formula.html", "/minus.html"]),
        "/evil.html": page_html(EVIL_TITLE, []),
        "/formula.html": page_html(FORMULA_TITLE, []),
        "/minus.html": page_html("-2+3", []),
    }
    server = SiteServer(site).start()
    data = tmp_path_factory.mktemp("crawl") / "d"
    try:
        result = cli(data, "crawl", server.base + "/", "--headless")
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    yield data, only_session(data)[0]


def _export(data: Path, session_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = cli(data, "export", session_id[:8], *args)
    assert_clean_stderr(result.stderr)
    return result


def _reference(data: Path, session_id: str, fmt: str = "jsonl") -> str:
    """What the export writes to a pipe: the exact bytes."""
    result = _export(data, session_id, "--format", fmt)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _no_temp_files(directory: Path) -> None:
    assert [p.name for p in directory.iterdir() if "tmp" in p.name] == []


# T26: targets that are not regular files are streamed in place -------------------------------
def test_fifo_target_is_written_in_place(crawled: tuple[Path, str], tmp_path: Path) -> None:
    data, sid = crawled
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = _export(data, sid, "-o", str(fifo))
    assert result.returncode == 0, result.stderr
    reader.join(timeout=30)
    assert not reader.is_alive(), "the FIFO's reader never got an end of file"
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced"
    assert received[0].decode() == _reference(data, sid)
    _no_temp_files(tmp_path)


def test_char_device_and_symlinks_to_it_stay(crawled: tuple[Path, str], tmp_path: Path) -> None:
    """A null device of our own (mknod 1,3): what `-o /dev/null` did to the real one."""
    data, sid = crawled
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    link = tmp_path / "link-to-null"
    link.symlink_to(null)
    for target in (null, link):
        result = _export(data, sid, "-o", str(target))
        assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.lstat().st_mode) and null.lstat().st_rdev == os.makedev(1, 3)
    assert link.is_symlink() and os.readlink(link) == str(null)
    _no_temp_files(tmp_path)


def test_stdout_symlink_writes_to_the_stream(crawled: tuple[Path, str], tmp_path: Path) -> None:
    """Our own `stdout -> /proc/self/fd/1` (what /dev/stdout is) and /dev/fd/1 write to the
    pipe the caller gave as stdout; the symlink is still a symlink afterwards."""
    data, sid = crawled
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    expected = _reference(data, sid)
    for target in (str(link), "/dev/fd/1", "-"):
        result = _export(data, sid, "-o", target)
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected, target
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    _no_temp_files(tmp_path)


def test_stdout_symlink_onto_a_file_appends(crawled: tuple[Path, str], tmp_path: Path) -> None:
    """`export -o /dev/stdout >> log`: the shell's file keeps its inode and its old lines."""
    data, sid = crawled
    log = tmp_path / "log"
    log.write_text("earlier line\n")
    inode = log.stat().st_ino
    with log.open("a") as fh:
        result = subprocess.run(
            [
                sys.executable,
                str(RUN_CLI),
                "--data-dir",
                str(data),
                "export",
                sid,
                "-o",
                "/dev/fd/1",
            ],
            stdout=fh,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert log.stat().st_ino == inode
    assert log.read_text() == "earlier line\n" + _reference(data, sid)


# T27: regular files are replaced atomically, safely ------------------------------------------
def test_regular_file_replaced_keeping_its_mode(crawled: tuple[Path, str], tmp_path: Path) -> None:
    data, sid = crawled
    out = tmp_path / "pages.jsonl"
    out.write_text("old\n")
    out.chmod(0o600)
    result = _export(data, sid, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == _reference(data, sid)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # A symlink to a regular file: the file it points at gets the export, the link stays.
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real.name)
    result = _export(data, sid, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and real.read_text() == _reference(data, sid)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    _no_temp_files(tmp_path)


def test_planted_symlink_at_the_temp_name_is_never_followed(
    crawled: tuple[Path, str], tmp_path: Path
) -> None:
    """The old temp name was `.NAME.PID.tmp`: predictable, opened without O_EXCL|O_NOFOLLOW.
    In this process the pid is known, so plant the symlink exactly there, pointing at a file
    the export must not touch."""
    from tui_scraper.backends.sqlite import Store
    from tui_scraper.export import export_pages

    data, sid = crawled
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "pages.jsonl"
    planted = tmp_path / f".{out.name}.{os.getpid()}.tmp"
    planted.symlink_to(victim)

    async def run() -> int:
        store = await Store.open(data, readonly=True)
        try:
            return await export_pages(store, sid, "jsonl", out)
        finally:
            await store.close()

    count = asyncio.run(run())
    assert count == 4
    assert victim.read_text() == "precious\n"
    assert planted.is_symlink()
    assert len(out.read_text().splitlines()) == 4


def test_stale_temp_of_a_killed_export_is_removed(
    crawled: tuple[Path, str], tmp_path: Path
) -> None:
    """A temp file whose writer died (its flock is free) goes with the next export to the same
    target; one that a live export holds locked stays."""
    from tui_scraper.outfile import TMP_SUFFIX

    data, sid = crawled
    out = tmp_path / "pages.jsonl"
    stale = tmp_path / f".{out.name}.k1ll3d{TMP_SUFFIX}"
    stale.write_text("half an export")
    live = tmp_path / f".{out.name}.l1v3{TMP_SUFFIX}"
    live.write_text("being written")
    with live.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = _export(data, sid, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert not stale.exists()
        assert live.exists()


def test_sigkill_mid_export_then_next_export_cleans_up(
    crawled: tuple[Path, str], tmp_path: Path
) -> None:
    """A real kill -9 while the temp file is open (the export is stuck writing into a FIFO would
    not do: a regular file is needed). Stop the child right after it created its temp file."""
    from tui_scraper.outfile import TMP_SUFFIX

    data, sid = crawled
    out = tmp_path / "pages.jsonl"
    out.write_text("old\n")
    proc = subprocess.Popen(
        [sys.executable, str(RUN_CLI), "--data-dir", str(data), "export", sid, "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HARDENING_STOP_AFTER_OPEN": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(f"*{TMP_SUFFIX}")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the export finished before it could be killed"
            time.sleep(0.02)
        assert list(tmp_path.glob(f"*{TMP_SUFFIX}")), "no temp file appeared"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert out.read_text() == "old\n"
    result = _export(data, sid, "-o", str(out))
    assert result.returncode == 0, result.stderr
    _no_temp_files(tmp_path)
    assert out.read_text() == _reference(data, sid)


@pytest.mark.skipif(not unshare_available(), reason="needs a private mount namespace")
def test_full_disk_keeps_the_old_file_one_line(crawled: tuple[Path, str], tmp_path: Path) -> None:
    """`-o` onto a full disk: a 64 KiB tmpfs (in a private mount namespace) filled up to a few
    bytes. The old file stays, no temp file is left, stderr is one line, exit 1."""
    data, sid = crawled
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        'mount -t tmpfs -o size=64k tmpfs "$1" && printf old > "$1/out.jsonl" && '
        '(head -c 70000 /dev/zero > "$1/filler" 2>/dev/null; true) && '
        'python "$2" --data-dir "$3" export "$4" -o "$1/out.jsonl"; code=$?; '
        'cat "$1/out.jsonl"; echo; ls -a "$1"; exit $code'
    )
    result = run_in_mount_namespace(script, str(mnt), str(RUN_CLI), str(data), sid)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert_clean_stderr(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], result.stderr
    content, listing = result.stdout.split("\n", 1)
    assert content == "old"
    assert "tmp" not in listing, listing


# T28: what reaches a terminal, a file, a spreadsheet ------------------------------------------
def _export_to_pty(data: Path, sid: str, *args: str) -> bytes:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, str(RUN_CLI), "--data-dir", str(data), "export", sid, *args],
            stdout=slave,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        os.close(slave)
        out = bytearray()
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, "the export stopped writing to the terminal"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out.extend(chunk)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        assert_clean_stderr(proc.stderr.read().decode())
        return bytes(out)
    finally:
        with contextlib.suppress(OSError):
            os.close(master)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_terminal_gets_visible_text_file_gets_exact(
    crawled: tuple[Path, str], tmp_path: Path, fmt: str
) -> None:
    data, sid = crawled
    shown = _export_to_pty(data, sid, "--format", fmt)
    for name, sequence in FORBIDDEN.items():
        assert sequence not in shown, f"{name} reached the terminal"
    assert b"PWN" in shown and b"EVILTITLE" in shown  # visibly there, made harmless
    assert "\N{REPLACEMENT CHARACTER}".encode() in shown
    # The same export to a file (and to a pipe) keeps every byte of the title.
    out = tmp_path / f"pages.{fmt}"
    assert _export(data, sid, "--format", fmt, "-o", str(out)).returncode == 0
    exact = out.read_text(encoding="utf-8")
    assert exact == _reference(data, sid, fmt)
    if fmt == "jsonl":
        titles = {json.loads(line)["title"] for line in exact.splitlines()}
        assert EVIL_TITLE in titles


def test_csv_formulas_neutralised_unless_kept(crawled: tuple[Path, str]) -> None:
    data, sid = crawled

    def titles(*args: str) -> set[str]:
        result = _export(data, sid, "--format", "csv", *args)
        assert result.returncode == 0, result.stderr
        return {row["title"] for row in csv.DictReader(io.StringIO(result.stdout))}

    guarded = titles()
    assert "'" + FORMULA_TITLE in guarded and "'-2+3" in guarded
    assert not any(t.startswith(("=", "+", "-", "@")) for t in guarded)
    assert "Home" in guarded  # ordinary cells untouched
    raw = titles("--keep-formulas")
    assert FORMULA_TITLE in raw and "-2+3" in raw


def test_temp_removed_by_a_concurrent_cleanup_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unit: another export's stale-temp cleanup can take the lock of a temp file in the instant
    between its creation and our flock, and unlink it. Simulated by unlinking it right there;
    the export then makes a new temp file and still replaces the target."""
    from tui_scraper import outfile

    real_flock = fcntl.flock
    unlinked: list[str] = []

    def flock_after_cleanup(fd: int, op: int) -> None:
        if not unlinked:
            name = os.readlink(f"/proc/self/fd/{fd}")
            os.unlink(name)
            unlinked.append(name)
        real_flock(fd, op)

    monkeypatch.setattr(outfile.fcntl, "flock", flock_after_cleanup)
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with outfile.open_output(target) as out:
        out.write(b"new\n")
        out.commit()
    assert unlinked and target.read_text() == "new\n"
    _no_temp_files(tmp_path)
