"""Outage: the site stops listening for ~20 s mid-crawl, then comes back on the same port.

The crawler must notice the host is down, stop burning retries on it, probe it with backoff, say
so on the headless line and in the event log, and carry on by itself when it answers again:
every page `done`, none `failed` because of the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from pathlib import Path

import pytest
from engine.invariants import assert_store_invariants, page_states
from engine.site import generated_site

from tui_scraper.engine.politeness import PROBE_CAP

from .conftest import assert_clean_stderr, cli, only_session, pages

OUTAGE_S = 20.0
N_PAGES = 150
OUTAGE_AFTER = 40  # requests served before the site goes away


class VanishingServer:
    """HTTP/1.1, one request per connection, on a fixed port it can stop and resume listening on.

    While "down" nothing listens on the port and every open connection is reset, so the crawler
    sees connection errors (refused), exactly as when a host's process or link goes away.
    """

    def __init__(self, site: dict[str, str]) -> None:
        self.site = site
        self.served = 0
        self.refused_window: tuple[float, float] | None = None
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._outage_task: asyncio.Future[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VanishingServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._ready.set()
        self._loop.run_forever()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _outage(self) -> None:
        assert self._server is not None
        started = time.time()
        self._server.close()
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.transport.abort()
        await self._server.wait_closed()
        await asyncio.sleep(OUTAGE_S)
        await self._listen()
        self.refused_window = (started, time.time())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?")[0].split("#")[0]
            body = self.site.get(path)
            if path == "/robots.txt" or body is None:
                status, data, ctype = "404 Not Found", b"not found", "text/plain"
            else:
                status, data, ctype = "200 OK", body.encode(), "text/html; charset=utf-8"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            self.served += 1
            if self.served == OUTAGE_AFTER:
                self._outage_task = asyncio.ensure_future(self._outage())
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.mark.slow
def test_outage_mid_crawl_recovers_by_itself(tmp_path: Path) -> None:
    server = VanishingServer(generated_site(N_PAGES)).start()
    data = tmp_path / "d"
    try:
        t0 = time.monotonic()
        result = cli(
            data, "crawl", server.base + "/", "--headless", "--concurrency", "4", timeout=200
        )
        took = time.monotonic() - t0
        assert server.refused_window is not None, "the outage never happened"
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        # It carries on by itself: at worst one full probe interval after the host is back
        # (plus slack for a loaded CI machine), never a hang.
        assert took <= OUTAGE_S + PROBE_CAP + 60, took
        expected = {server.base + ("/" if i == 0 else f"/p/{i}.html") for i in range(N_PAGES)}
        states = page_states(data)
        assert {u for u, s in states.items() if s == "done"} == expected
        failed = {u: e for u, (s, e) in pages(data).items() if s == "failed"}
        assert failed == {}, failed
        # The headless line showed the host's state while it was down.
        assert "host down" in result.stderr, result.stderr
        assert "next try in" in result.stderr or "probing" in result.stderr
        session_id, status, _error = only_session(data)
        assert status == "completed"
        shown = cli(data, "show", session_id[:8], "--json")
        kinds = [e["kind"] for e in json.loads(shown.stdout)["events"]]
        assert "outage" in kinds and "recovery" in kinds, kinds
        assert kinds.index("outage") < len(kinds) - 1 - kinds[::-1].index("recovery")
        assert_store_invariants(data)
    finally:
        server.stop()
