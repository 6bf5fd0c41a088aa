"""Hostile servers end to end (T12 via the crawler, T13, T19): bombs, an endless body, a slow
drip, binary served as text/html and HTML crafted to make the parser slow, all on one site next
to 60 ordinary pages. Each hostile page ends `failed`/`skipped` with its reason, every ordinary
page is `done`, and the crawler's peak memory stays within cap + 32 MB of a control crawl.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine.invariants import assert_store_invariants
from engine.site import SiteServer, generated_site

from .conftest import assert_clean_stderr, cli, only_session, pages
from .hostile_site import CAP, EXPECTED, N_NORMAL, HostileSite

MB = 1024 * 1024
ARGS = (
    "--headless",
    "--concurrency",
    "4",
    "--timeout",
    "3",
    "--retries",
    "1",
    "--max-body",
    str(CAP),
)


def _crawl_hwm_kib(data: Path, url: str) -> tuple[int, str]:
    hwm = data.parent / f"{data.name}.hwm"
    result = cli(data, "crawl", url, *ARGS, env={"HARDENING_HWM_FILE": str(hwm)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    return int(hwm.read_text()), result.stderr


@pytest.mark.slow
def test_hostile_pages_fail_with_reason_others_flow_memory_bounded(tmp_path: Path) -> None:
    control = SiteServer(generated_site(N_NORMAL)).start()
    try:
        control_kib, _ = _crawl_hwm_kib(tmp_path / "control", control.base + "/")
    finally:
        control.stop()

    site = HostileSite().start()
    data = tmp_path / "d"
    try:
        hostile_kib, stderr = _crawl_hwm_kib(data, site.base + "/")
        rows = pages(data)
        by_path = {url.removeprefix(site.base): row for url, row in rows.items()}
        for path, (states, kinds) in EXPECTED.items():
            status, error = by_path[path]
            assert status in states, (path, status, error)
            if status != "done":
                assert error is not None and error["kind"] in kinds, (path, error)
                assert error["message"], (path, error)
        assert {p for p, (s, _e) in by_path.items() if s == "done"} >= site.normal
        assert only_session(data)[1] == "completed"
        assert_store_invariants(data)
        # The client hung up early: the endless body and the bombs were not read to the end.
        assert site.sent["/endless"] < 4 * CAP, site.sent
        growth = (hostile_kib - control_kib) * 1024
        print(f"peak RSS control {control_kib} KiB, hostile {hostile_kib} KiB")
        assert growth < CAP + 32 * MB, f"peak RSS grew {growth / MB:.0f} MB over the control"
        assert "Traceback" not in stderr
    finally:
        site.stop()
