"""T22: escape sequences in website text never reach the terminal raw.

The real app runs under a pty (as in a terminal emulator) and crawls a page whose title carries
OSC 0 (window title), OSC 52 (clipboard write), a C1 CSI and a bidi override. The raw bytes the
app writes must not contain any of them, while the rest of the title is visibly there.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import pytest
from engine.site import SiteServer, page_html

from . import procs

PAYLOAD_TITLE = "PWN\x1b]0;EVILTITLE\x07X\x1b]52;c;cHduZWQ=\x07Y\x9b31mZ\u202eQ"
FORBIDDEN = {
    "OSC 0 (window title)": b"\x1b]0;EVILTITLE",
    "OSC 52 (clipboard)": b"\x1b]52;",
    "C1 CSI": "\x9b".encode(),
    "bidi override": "\u202e".encode(),
}


def _read_until(fd: int, needle: bytes, timeout: float, sink: bytearray) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return needle in sink
            if not chunk:
                return needle in sink
            sink.extend(chunk)
            if needle in sink:
                return True
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_terminal_escapes_never_reach_the_tty(tmp_path: Path) -> None:
    pages = {
        "/": page_html("Home", ["/evil.html"]),
        "/evil.html": page_html(PAYLOAD_TITLE, []),
    }
    server = SiteServer(pages).start()
    data = tmp_path / "d"  # short: the crawl's worker socket path must fit AF_UNIX
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user would start it
        os.environ.update({"TERM": "xterm-256color", "COLUMNS": "200", "LINES": "40"})
        os.execv(
            sys.executable,
            [sys.executable, "-m", "tui_scraper", "--data-dir", str(data), "crawl", server.base],
        )
    out = bytearray()
    try:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        # The title's printable parts show up in the recent-pages table once the page is stored.
        shown = _read_until(fd, b"EVILTITLE", 60, out)
        assert shown, out[-2000:].decode("utf-8", "replace")
        _read_until(fd, b"\x00never", 1.0, out)  # a little more output after it
        for name, sequence in FORBIDDEN.items():
            assert sequence not in out, f"{name} reached the terminal"
    finally:
        tree = procs.tree(pid)
        try:
            # Quit as a person would; the crawl may be over (no question) or still running in
            # its worker (stop it: the test's site goes away with the test).
            os.write(fd, b"\x11")  # ctrl+q
            if _read_until(fd, b"Keep crawling in the background", 30.0, out):
                os.write(fd, b"s")
        except OSError:
            pass
        try:
            procs.wait_gone(tree, timeout=30)  # the app, its fetch workers and their helpers
        finally:
            procs.kill_all(p for p in tree if procs.alive(p))
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            os.close(fd)
            server.stop()
