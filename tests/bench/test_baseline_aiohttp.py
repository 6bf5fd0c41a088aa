"""The raw aiohttp baseline crawls the benchmark site exactly: every page once, redirects once."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import sitegen  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

PAGES = 120


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, sitegen.SiteInfo]]:
    """The benchmark site on 127.0.0.1 by the fallback server, and its access log."""
    info = sitegen.generate(tmp_path / "site", PAGES, seed=11)
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "static_server.py"), str(info.root), str(log)],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        yield f"http://127.0.0.1:{port}/", log, info
    finally:
        server.terminate()
        server.wait(10)


def crawl(url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / "baseline_aiohttp.py"), url, *flags],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def page_file(info: sitegen.SiteInfo, page: str) -> Path:
    path = page.split("?", 1)[0].lstrip("/")
    return info.root / path / "index.html" if not path or path.endswith("/") else info.root / path


def assert_exact(log: Path, info: sitegen.SiteInfo) -> None:
    lines = [line.split(" ", 2) for line in log.read_text().splitlines()]
    ok = [uri.strip('"') for _, status, uri in lines if status == "200"]
    hops = [uri.strip('"') for _, status, uri in lines if status == "301"]
    assert len(ok) == len(set(ok)) == PAGES  # every page once
    assert sorted(hops) == info.redirect_sources  # each redirect hop once
    assert all(status in ("200", "301") for _, status, _ in lines)


def test_aiohttp_baseline_fetches_every_page_once(
    served: tuple[str, Path, sitegen.SiteInfo],
) -> None:
    url, log, info = served
    out = crawl(url, "--concurrency", "8")
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert counts["pages"] == PAGES and counts["errors"] == 0
    assert counts["redirects"] == len(info.redirect_sources)
    assert counts["bytes"] == sum(page_file(info, page).stat().st_size for page in info.pages)
    assert_exact(log, info)


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_aiohttp_baseline_on_uvloop(served: tuple[str, Path, sitegen.SiteInfo]) -> None:
    url, log, info = served
    out = crawl(url, "--uvloop")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["pages"] == PAGES
    assert_exact(log, info)


def test_uvloop_flag_without_uvloop_is_one_line_and_exit_2(
    served: tuple[str, Path, sitegen.SiteInfo],
) -> None:
    url, log, _ = served
    # uvloop is a dependency: hide it, as on a machine where it does not build.
    hidden = (
        "import runpy, sys; sys.modules['uvloop'] = None; sys.argv = sys.argv[1:]; "
        "sys.path.insert(0, sys.argv[0].rpartition('/')[0]); "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    out = subprocess.run(
        [sys.executable, "-c", hidden, str(BENCHMARKS / "baseline_aiohttp.py"), url, "--uvloop"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "uvloop is not installed" in out.stderr
    assert log.read_text() == ""  # nothing fetched
