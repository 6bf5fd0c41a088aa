"""The live channel of a real detached worker under load: clients churning by the dozen through a
whole crawl, and a client that connects and never reads. The server-level cases are in
tests/channel/test_server_hostile.py; here the worker is the real one, crawling the tests' own
site on 127.0.0.1, and it is judged by what clients receive, its log, /proc and the store."""

from __future__ import annotations

import asyncio
import select
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.channel.rawclient import RawClient
from tests.engine.invariants import assert_store_invariants
from tests.engine.site import SiteServer, generated_site
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.runtime.channel.protocol import PROTOCOL_VERSION
from tui_scraper.runtime.detach import log_path_for

from .helpers import cli, done_pages, kill_workers, lease_held, status_of, wait_for, worker_pid

pytestmark = pytest.mark.slow

CHURNERS = 50
# Generous: the worker holds what it always holds (frontier, recent pages, the parse pool),
# one encoded progress sample shared by every client, and at most its write high-water mark
# for the stuck client; anything that grows with the bytes the client leaves unread breaks it.
RSS_HEADROOM_KIB = 64 * 1024
DROP_LOG_LINE = "dropped a client that stopped reading"


@pytest.fixture
def short_data_dir() -> Iterator[Path]:
    # Not tmp_path: its paths grow with the test's name, and an AF_UNIX path has 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="load", dir="/tmp"))
    try:
        yield path
    finally:
        kill_workers(path)
        shutil.rmtree(path, ignore_errors=True)


def _detach(data_dir: Path, site: SiteServer, rate: int) -> str:
    result = cli(data_dir, "crawl", f"{site.base}/", "--rate", str(rate), "--detach")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _assert_every_page_once(data_dir: Path, session_id: str, site: SiteServer) -> None:
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=120, what="completed")
    wait_for(lambda: not lease_held(data_dir, session_id), timeout=10, what="the worker gone")
    assert done_pages(data_dir) == len(site.pages)
    # Pages, not robots.txt: the worker may ask for that again (its fetch is no page's).
    hits = {path: n for path, n in site.hits().items() if path != "/robots.txt"}
    assert set(hits) == set(site.pages), set(site.pages) ^ set(hits)
    assert all(n == 1 for n in hits.values()), sorted(hits.items(), key=lambda kv: -kv[1])[:3]
    assert_store_invariants(data_dir)


@dataclass
class Tally:
    """What the churning clients saw: greetings per client, and every connection that did not
    get its hello + snapshot, with the session's status right after (final: cut by the end)."""

    greeted: list[int] = field(default_factory=lambda: [0] * CHURNERS)
    wrong: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)


async def _churn(
    index: int, path: Path, session_id: str, pid: int, over: asyncio.Event, tally: Tally
) -> None:
    data_dir = path.parent.parent
    while not over.is_set():
        try:
            client = await RawClient.connect(path)
        except OSError:  # the socket is gone or refuses: the worker is stopping, or broke
            tally.cut.append(await asyncio.to_thread(status_of, data_dir, session_id))
            return
        try:
            hello = await client.read(timeout=30)
            snapshot = await client.read(timeout=30)
        finally:
            client.close()
        if hello is None or snapshot is None:
            tally.cut.append(await asyncio.to_thread(status_of, data_dir, session_id))
            return
        if (hello["type"], hello["protocol"], hello["session"], hello["pid"]) != (
            "hello",
            PROTOCOL_VERSION,
            session_id,
            pid,
        ):
            tally.wrong.append(f"hello: {hello}")
        elif snapshot["type"] != "snapshot" or snapshot["data"]["session_id"] != session_id:
            tally.wrong.append(f"snapshot: {str(snapshot)[:200]}")
        else:
            tally.greeted[index] += 1


async def _churn_until_final(data_dir: Path, session_id: str, pid: int) -> Tally:
    path = socket_path(data_dir, session_id)
    tally = Tally()
    over = asyncio.Event()

    async def watch_status() -> None:
        while await asyncio.to_thread(status_of, data_dir, session_id) == "running":
            await asyncio.sleep(0.1)
        over.set()

    watcher = asyncio.create_task(watch_status())
    await asyncio.gather(*(_churn(i, path, session_id, pid, over, tally) for i in range(CHURNERS)))
    await watcher
    return tally


def test_fifty_churning_clients_are_each_greeted_and_the_crawl_is_exact(
    short_data_dir: Path,
) -> None:
    site = SiteServer(generated_site(150, filler=5)).start()
    try:
        # 150 pages at 30 requests/s: five seconds or more of crawl to churn through.
        session_id = _detach(short_data_dir, site, rate=30)
        pid = worker_pid(short_data_dir, session_id)
        tally = asyncio.run(_churn_until_final(short_data_dir, session_id, pid))
        assert tally.wrong == []
        # A connection cut short is only allowed once the session has left `running`.
        assert "running" not in tally.cut, tally.cut
        # Each client came back again and again through the whole crawl.
        assert min(tally.greeted) >= 3, tally.greeted
        _assert_every_page_once(short_data_dir, session_id, site)
    finally:
        site.stop()


def _vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _never_reading_client(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(str(path))
    return sock


def _hung_up(sock: socket.socket) -> bool:
    """The worker closed its end (the unread bytes stay queued here: poll reads none)."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP)
    return any(events & (select.POLLRDHUP | select.POLLHUP) for _, events in poller.poll(0))


def _long_title_site(pages: int) -> dict[str, str]:
    """The generated site with long titles: each progress sample carries the recent pages'
    titles, so a client that never reads falls behind by megabytes within seconds."""
    site = generated_site(pages, filler=5)
    for path in site:
        name = "index" if path == "/" else path
        title = f"{name} " + "a long page title " * 220
        site[path] = site[path].replace("<title>", f"<title>{title}", 1)
    return site


def test_a_client_that_never_reads_is_dropped_and_the_worker_stays_bounded(
    short_data_dir: Path,
) -> None:
    site = SiteServer(_long_title_site(120)).start()
    try:
        # 120 pages at 8 requests/s: fifteen seconds, well past the worker's write deadline.
        session_id = _detach(short_data_dir, site, rate=8)
        pid = worker_pid(short_data_dir, session_id)
        wait_for(lambda: done_pages(short_data_dir) >= 5, timeout=30, what="crawling")
        before = _vm_rss_kib(pid)
        stuck = _never_reading_client(socket_path(short_data_dir, session_id))
        try:
            samples = [before]

            def dropped() -> bool:
                assert status_of(short_data_dir, session_id) == "running", "never dropped"
                samples.append(_vm_rss_kib(pid))
                return _hung_up(stuck)

            wait_for(dropped, timeout=60, what="the worker drops the client that never reads")
            # Dropped by the worker while it still crawls, not closed by the crawl's end.
            assert status_of(short_data_dir, session_id) == "running"
            assert lease_held(short_data_dir, session_id)
            log = log_path_for(short_data_dir, session_id)
            wait_for(lambda: DROP_LOG_LINE in log.read_text(), timeout=10, what="the log line")
            assert max(samples) <= before + RSS_HEADROOM_KIB, (before, max(samples))
            # The worker still greets a newcomer and keeps crawling.
            assert asyncio.run(_greeted(short_data_dir, session_id, pid))
        finally:
            stuck.close()
        _assert_every_page_once(short_data_dir, session_id, site)
        assert log.read_text().count(DROP_LOG_LINE) == 1
    finally:
        site.stop()


async def _greeted(data_dir: Path, session_id: str, pid: int) -> bool:
    client = await RawClient.connect(socket_path(data_dir, session_id))
    try:
        hello = await client.read_type("hello", timeout=30)
        snapshot = await client.read_type("snapshot", timeout=30)
    finally:
        client.close()
    return bool(hello["pid"] == pid and snapshot["data"]["state"] == "running")
