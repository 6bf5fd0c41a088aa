"""`tui-scraper crawl URL --header ... --cookie ...` without --headless: the real CLI, in a pty.

It used to refuse ("--header/--cookie need --headless"); now the app starts the session with the
secrets, which reach the site and never the database.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web
from engine.site import SiteServer, page_html

from tests.worker.helpers import kill_workers

SECRET = "S3CR3T-UI"


class HeaderLog(SiteServer):
    headers: list[dict[str, str]]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
        return await super()._handle(request)


def _drain(fd: int, sink: bytearray, until: float) -> None:
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            return
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        sink.extend(chunk)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_crawl_with_header_and_cookie_in_the_app(tmp_path: Path) -> None:
    server = HeaderLog({"/": page_html("Home", ["/a.html"]), "/a.html": page_html("A", [])})
    server.headers = []
    server.start()
    data = tmp_path / "d"  # short: the crawl's worker socket path must fit AF_UNIX
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user would start it
        os.environ.update(
            {"TERM": "xterm-256color", "TUI_SCRAPER_CONFIG_DIR": str(tmp_path / "config")}
        )
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-m",
                "tui_scraper",
                "--data-dir",
                str(data),
                "crawl",
                server.base + "/",
                "--header",
                f"Authorization: Bearer {SECRET}",
                "--cookie",
                f"sid={SECRET}",
            ],
        )
    out = bytearray()
    try:
        deadline = time.monotonic() + 60
        sent = False
        while time.monotonic() < deadline and not sent:
            _drain(fd, out, time.monotonic() + 0.2)
            with server._lock:
                sent = any(
                    h.get("authorization") == f"Bearer {SECRET}"
                    and h.get("cookie") == f"sid={SECRET}"
                    for h in server.headers
                )
            with contextlib.suppress(ChildProcessError):
                done, _ = os.waitpid(pid, os.WNOHANG)
                assert done == 0, out[-2000:].decode("utf-8", "replace")
        assert sent, out[-2000:].decode("utf-8", "replace")
        assert b"need --headless" not in out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # the app checkpoints and exits on SIGTERM
        end = time.monotonic() + 20

        while time.monotonic() < end:
            _drain(fd, out, time.monotonic() + 0.2)
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
        kill_workers(data)  # the app's crawl runs in a background worker
        server.stop()
    # The secret values stay out of the database; only the header names are recorded.
    db = sqlite3.connect(data / "scraper.db")
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert SECRET not in dump
    assert "Authorization" in dump and "Cookie" in dump
