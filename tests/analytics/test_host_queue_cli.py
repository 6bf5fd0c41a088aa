"""`stats` shows each host's queue: a detached crawl over two sites (two ports of 127.0.0.1 are
two hosts in our URLs) paused with pages left, then `stats --json` and the text against what the
store holds per host, counted here from the pages table directly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from tests.engine.invariants import connect_ro
from tests.engine.site import SiteServer, page_html
from tests.worker.helpers import cli, done_pages, kill_workers, lease_held, status_of, wait_for

ON_FIRST, ON_SECOND = 10, 20


def _waiting_per_host(data: Path) -> Counter[str]:
    db = connect_ro(data)
    try:
        urls = db.execute("SELECT url FROM pages WHERE status IN ('queued', 'fetching')").fetchall()
    finally:
        db.close()
    return Counter(urlsplit(url).netloc for (url,) in urls)


def test_stats_lists_each_hosts_queue_as_the_store_holds_it(tmp_path: Path) -> None:
    data = tmp_path / "d"
    first, second = SiteServer({}), SiteServer({})
    first.start()
    second.start()
    try:
        first.pages.update(
            {
                "/": page_html(
                    "Home",
                    [f"/a/{i}.html" for i in range(ON_FIRST)]
                    + [f"{second.base}/b/{i}.html" for i in range(ON_SECOND)],
                )
            }
        )
        first.pages.update({f"/a/{i}.html": page_html(f"A {i}", []) for i in range(ON_FIRST)})
        second.pages.update({f"/b/{i}.html": page_html(f"B {i}", []) for i in range(ON_SECOND)})
        crawl = cli(
            data, "crawl", first.base + "/", "--detach", "--scope", "any", "--rate", "4",
        )  # fmt: skip
        assert crawl.returncode == 0, crawl.stderr
        session_id = crawl.stdout.strip()
        wait_for(lambda: done_pages(data) >= 3, timeout=30, what="the crawl got going")
        paused = cli(data, "pause", session_id)
        assert paused.returncode == 0, paused.stderr
        wait_for(lambda: status_of(data, session_id) == "paused", timeout=20, what="paused")
        wait_for(lambda: not lease_held(data, session_id), timeout=10, what="the worker gone")
        figures = json.loads(cli(data, "stats", session_id, "--json").stdout)
        text = cli(data, "stats", session_id)
    finally:
        kill_workers(data)
        first.stop()
        second.stop()
    waiting = _waiting_per_host(data)
    first_host, second_host = urlsplit(first.base).netloc, urlsplit(second.base).netloc
    assert first_host != second_host and set(waiting) <= {first_host, second_host}
    fetched = sum(h["pages"] for h in figures["hosts"])
    assert sum(waiting.values()) == 1 + ON_FIRST + ON_SECOND - fetched > 0  # pages were left
    hosts = {h["host"]: h for h in figures["hosts"]}
    assert set(hosts) == {first_host, second_host}  # both listed, however many were fetched
    for host, h in hosts.items():
        assert h["queued"] == waiting[host], (host, h, waiting)
    assert text.returncode == 0, text.stderr
    assert "QUEUED" in text.stdout
    rows = {line.split()[-1]: line.split() for line in text.stdout.splitlines()
            if line.split() and line.split()[-1] in hosts}  # fmt: skip
    assert {host: int(row[-2]) for host, row in rows.items()} == {
        host: waiting[host] for host in hosts
    }
