"""Live tuning (`tui-scraper set`) of real crawls: a detached worker and a foreground
`crawl --headless`, driven by the real CLI in child processes, against a site on 127.0.0.1
that records when each request arrived and how many were in flight at once."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.engine.site import SiteServer, generated_site
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.service.channel_client import ChannelClient

from .helpers import RUN_CLI, cli, done_pages, lease_held, session_row, status_of, wait_for
from .test_commands import _block_channel, _control_outcomes

EXCLUDED = r"/p/\d*7\.html$"


@dataclass
class TimedSite(SiteServer):
    """A generated site whose every answer takes `delay` seconds, with a log of arrivals
    (monotonic time, path) and the most requests it had in flight at once."""

    delay: float = 0.01
    arrivals: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._count_lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._count_lock:
            self.arrivals.append((time.monotonic(), request.path))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return await super()._handle(request)
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def after(self, moment: float) -> list[tuple[float, str]]:
        with self._count_lock:
            return [(at, path) for at, path in self.arrivals if at > moment]

    def restart_max(self) -> None:
        with self._count_lock:
            self.max_in_flight = self.in_flight


@pytest.fixture
def serve() -> Iterator[Callable[[int, float], TimedSite]]:
    """Start a TimedSite of n pages answering after `delay` s; stopped at the end."""
    sites: list[TimedSite] = []

    def start(pages: int, delay: float) -> TimedSite:
        site = TimedSite(generated_site(pages, filler=5), delay=delay)
        sites.append(site)
        site.start()
        return site

    yield start
    for site in sites:
        site.stop()


def _start(data_dir: Path, site: SiteServer, *options: str) -> str:
    result = cli(data_dir, "crawl", f"{site.base}/", *options, "--detach")
    assert result.returncode == 0, result.stderr
    session_id = result.stdout.strip()
    wait_for(lambda: done_pages(data_dir) >= 20, timeout=30, what="the crawl got going")
    return session_id


def _set(data_dir: Path, session_id: str, *options: str) -> tuple[str, float]:
    """`set` by the CLI; its output and the moment it returned (after the worker's ack)."""
    result = cli(data_dir, "set", session_id[:8], *options)
    acked = time.monotonic()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.strip(), acked


def _show(data_dir: Path, session_id: str) -> dict[str, Any]:
    result = cli(data_dir, "show", session_id, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def _tuned_events(data_dir: Path, session_id: str) -> list[tuple[str, str]]:
    return [
        (event["reason"], event["who"])
        for event in _show(data_dir, session_id)["events"]
        if event["kind"] == "tuned"
    ]


def test_set_rate_paces_the_host_from_the_ack(
    data_dir: Path, serve: Callable[[int, float], TimedSite]
) -> None:
    site = serve(3000, 0.01)
    session_id = _start(data_dir, site)
    line, acked = _set(data_dir, session_id, "--rate", "2")
    assert line == (
        f"set rate 2/s per host sent to session {session_id[:8]} over the live channel: "
        "now rate 2/s per host, concurrency 16, no exclude patterns"
    )
    # What was already in flight (at most --per-host requests) may still arrive just after.
    settle = acked + 0.5
    wait_for(lambda: len(site.after(settle)) >= 7, timeout=30, what="7 paced requests")
    times = [at for at, _path in site.after(settle)][:7]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 0.35, gaps  # 0.5 s apart, with room for a loaded machine
    assert 6 / (times[-1] - times[0]) <= 2.5
    assert site.after(acked + 0.3)[0][0] - acked < 1.0  # it kept crawling, paced


def test_lowering_concurrency_to_one_leaves_one_request_in_flight(
    data_dir: Path, serve: Callable[[int, float], TimedSite]
) -> None:
    site = serve(3000, 0.05)
    session_id = _start(data_dir, site, "--concurrency", "8", "--per-host", "8")
    assert site.max_in_flight >= 3  # it ran requests side by side before
    line, _acked = _set(data_dir, session_id, "--concurrency", "1")
    assert line.endswith("now no rate limit, concurrency 1, no exclude patterns"), line
    # Requests in flight at the ack finish; no new one starts above the limit.
    wait_for(lambda: site.in_flight <= 1, timeout=10, what="the earlier requests finished")
    site.restart_max()
    mark = time.monotonic()
    wait_for(lambda: len(site.after(mark)) >= 30, timeout=30, what="30 more requests")
    assert site.max_in_flight == 1
    line, _ = _set(data_dir, session_id, "--concurrency", "6")  # and up again
    site.restart_max()
    wait_for(lambda: site.max_in_flight >= 3, timeout=10, what="requests side by side")


def _excluded_rows(data_dir: Path, session_id: str) -> int:
    from tests.engine.invariants import connect_ro

    db = connect_ro(data_dir)
    try:
        row = db.execute(
            "SELECT COUNT(*) FROM pages WHERE session_id = ? AND status = 'skipped' "
            "AND json_extract(error_details, '$.kind') = 'excluded'",
            (session_id,),
        ).fetchone()
        return int(row[0])
    finally:
        db.close()


def test_exclude_skips_matching_urls_from_the_ack_and_the_crawl_completes(
    data_dir: Path, serve: Callable[[int, float], TimedSite]
) -> None:
    site = serve(600, 0.02)
    session_id = _start(data_dir, site, "--per-host", "2")
    line, acked = _set(data_dir, session_id, "--exclude", EXCLUDED)
    assert line.endswith("now no rate limit, concurrency 16, 1 exclude pattern"), line
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=90)
    later = [path for _at, path in site.after(acked)]
    assert later, "the crawl went on after the ack"
    assert not [path for path in later if re.search(EXCLUDED, path)]
    # Queued before the change: skipped as excluded at claim time, recorded, not fetched.
    assert _excluded_rows(data_dir, session_id) > 0
    shown = _show(data_dir, session_id)
    assert shown["config"]["exclude"] == [EXCLUDED]
    assert _tuned_events(data_dir, session_id) == [
        ("tuned by channel: exclude 1 pattern", "channel")
    ]


def test_a_tuned_session_paused_then_resumed_detached_crawls_with_its_tuned_config(
    data_dir: Path, serve: Callable[[int, float], TimedSite]
) -> None:
    site = serve(600, 0.02)
    session_id = _start(data_dir, site, "--per-host", "2", "--exclude", r"/p/1\.html$")
    line, _acked = _set(data_dir, session_id, "--exclude", EXCLUDED, "--concurrency", "3")
    assert line.endswith("now no rate limit, concurrency 3, 2 exclude patterns"), line
    paused = cli(data_dir, "pause", session_id)
    assert paused.returncode == 0, paused.stderr
    wait_for(lambda: status_of(data_dir, session_id) == "paused", timeout=20)
    wait_for(lambda: not lease_held(data_dir, session_id), timeout=10)
    config = json.loads(session_row(data_dir, session_id)["config"])
    assert config["exclude"] == [r"/p/1\.html$", EXCLUDED] and config["concurrency"] == 3
    mark = time.monotonic()
    resumed = cli(data_dir, "resume", session_id, "--detach")
    assert resumed.returncode == 0, resumed.stderr
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=90)
    during = [path for _at, path in site.after(mark)]
    assert during, "the resume fetched the rest"
    assert not [path for path in during if re.search(EXCLUDED, path)]
    assert _show(data_dir, session_id)["config"]["concurrency"] == 3


def test_set_goes_by_a_control_record_when_the_socket_is_gone(
    data_dir: Path, site: SiteServer
) -> None:
    session_id = _start(data_dir, site, "--rate", "10")
    _block_channel(data_dir, session_id)
    line, _acked = _set(data_dir, session_id, "--rate", "1000")
    assert "by a control record (#1)" in line, line
    assert line.endswith("now rate 1000/s per host, concurrency 16, no exclude patterns")
    assert _control_outcomes(data_dir) == [
        ("set", "now rate 1000/s per host, concurrency 16, no exclude patterns")
    ]
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=30)
    [(reason, who)] = _tuned_events(data_dir, session_id)
    assert reason == f"tuned by {who}: rate 1000/s per host" and who.startswith("cli:")
    assert json.loads(session_row(data_dir, session_id)["config"])["rate_per_host"] == 1000


def test_a_headless_crawl_answers_set_and_pause_from_another_process(
    data_dir: Path, serve: Callable[[int, float], TimedSite]
) -> None:
    site = serve(3000, 0.0)
    argv = [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), "crawl", f"{site.base}/"]
    crawl = subprocess.Popen(
        [*argv, "--headless", "--rate", "20"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # progress lines: never read, so never let them fill a pipe
        text=True,
    )
    try:
        assert crawl.stdout is not None
        session_id = crawl.stdout.readline().strip()  # printed once the session exists
        assert session_id, crawl.wait(timeout=30)
        wait_for(lambda: done_pages(data_dir) >= 5, timeout=30, what="the crawl got going")
        wait_for(lambda: socket_path(data_dir, session_id).exists(), timeout=10)

        async def snapshot() -> dict[str, Any]:
            async with await ChannelClient.connect(socket_path(data_dir, session_id)) as client:
                return dict(client.snapshot["data"])

        attached = asyncio.run(snapshot())  # what `attach` shows first
        assert (attached["state"], attached["session_id"]) == ("running", session_id)
        line, acked = _set(data_dir, session_id, "--rate", "200")
        assert "over the live channel: now rate 200/s per host" in line, line
        wait_for(lambda: len(site.after(acked)) >= 60, timeout=10, what="faster than 20/s")
        paused = cli(data_dir, "pause", session_id)
        assert paused.returncode == 0, paused.stderr
        assert "over the live channel: pausing" in paused.stdout
        assert crawl.wait(timeout=30) == 130  # paused: resumable, as a signal leaves it
        assert status_of(data_dir, session_id) == "paused"
        assert not socket_path(data_dir, session_id).exists()
        assert _tuned_events(data_dir, session_id) == [
            ("tuned by channel: rate 200/s per host", "channel")
        ]
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait()


def test_bad_values_and_nothing_to_set_are_refused_with_nothing_recorded(
    data_dir: Path, site: SiteServer, tmp_path: Path
) -> None:
    session_id = _start(data_dir, site, "--rate", "10")
    for options, says in [
        (["--rate", "0"], "rate: must be a number of requests per second from 0.01 to 1000"),
        (["--concurrency", "0"], "concurrency: must be a whole number from 1 to 512"),
        (["--exclude", "("], "exclude: bad regular expression '('"),
        ([], "set: name at least one of rate, concurrency, exclude"),
        (["--rate", "fast"], "argument --rate: invalid float value: 'fast'"),
    ]:
        result = cli(data_dir, "set", session_id, *options)
        assert result.returncode == 2, (options, result.stdout)
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith(f"tui-scraper: {says}"), line
    assert _control_outcomes(data_dir) == []
    assert _tuned_events(data_dir, session_id) == []
    nowhere = tmp_path / "not-created"
    result = cli(nowhere, "set", session_id, "--rate", "0")
    assert result.returncode == 2 and not nowhere.exists()


def test_a_session_that_is_not_running_is_refused(data_dir: Path, site: SiteServer) -> None:
    result = cli(data_dir, "crawl", f"{site.base}/", "--headless")
    assert result.returncode == 0, result.stderr
    session_id = result.stdout.strip()
    refused = cli(data_dir, "set", session_id, "--rate", "5")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"tui-scraper: session {session_id[:8]} is not running (it is completed); "
        "there is nothing to tune"
    ]
    assert _control_outcomes(data_dir) == []
    assert _tuned_events(data_dir, session_id) == []


def test_exclude_adds_to_the_patterns_and_no_exclude_clears_them(
    data_dir: Path, site: SiteServer
) -> None:
    helped = cli(data_dir, "set", "--help")
    assert helped.returncode == 0
    assert "added to the session's current exclude patterns" in " ".join(helped.stdout.split())
    session_id = _start(data_dir, site, "--rate", "10", "--exclude", "/none-a")

    def patterns() -> list[str]:
        return list(json.loads(session_row(data_dir, session_id)["config"])["exclude"])

    line, _ = _set(data_dir, session_id, "--exclude", "/none-b", "--exclude", "/none-a")
    assert line.endswith("2 exclude patterns") and patterns() == ["/none-a", "/none-b"]
    line, _ = _set(data_dir, session_id, "--no-exclude", "--exclude", "/none-c")
    assert line.endswith("1 exclude pattern") and patterns() == ["/none-c"]
    result = cli(data_dir, "set", session_id, "--no-exclude", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record == {
        "session": session_id,
        "sent": {"exclude": []},
        "via": "channel",
        "control_id": None,
        "outcome": "now rate 10/s per host, concurrency 16, no exclude patterns",
        "applied": True,
    }
    assert patterns() == []
