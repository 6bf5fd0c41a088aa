"""The benchmark runners end to end on a tiny site: the figures they exist to print are there.

run.py prints CPU ms/page and the tree's PSS for every crawler (and writes them with --json);
bench_tui.py drives the installed app in a tmux terminal of its own and reads each crawl's
time from the store. Both on the fallback server, in the test's tmp dir (never benchmarks/out).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_run_py_prints_cpu_per_page_and_pss(tmp_path: Path) -> None:
    figures = tmp_path / "runs.json"
    out = subprocess.run(
        [
            *[sys.executable, str(BENCHMARKS / "run.py"), "--pages", "60", "--rounds", "1"],
            *["--only", "aiohttp baseline,httpx baseline", "--server", "python"],
            *["--out", str(tmp_path / "out"), "--json", str(figures)],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    (only_round,) = json.loads(figures.read_text())
    runs = {run["crawler"]: run for run in only_round}
    assert {"aiohttp baseline", "httpx baseline"} <= set(runs)
    for run in runs.values():
        assert run["code"] == 0 and run["note"] == ""
        assert run["distinct"] == 60 and run["missing"] == 0 and run["extra"] == 0
        # An interpreter's start-up alone is tens of ms of CPU: the tree's CPU is all there.
        assert run["cpu_s"] > 0.05
        assert run["cpu_ms_per_page"] == pytest.approx(run["cpu_s"] / 60 * 1000)
        assert 0 < run["tree_pss_kb"] <= run["tree_rss_kb"]
    header = next(line for line in out.stdout.splitlines() if line.startswith("crawler "))
    assert "CPU ms/page" in header and "PSS MB" in header and "to aiohttp" in header
    assert "load average before:" in out.stdout
    assert not (BENCHMARKS / "out" / "server" / "access.log").is_relative_to(tmp_path)
    assert (tmp_path / "out" / "server" / "access.log").exists()


@pytest.mark.terminal
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_bench_tui_measures_the_app_in_tmux(tmp_path: Path) -> None:
    figures = tmp_path / "tui.json"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen(
        [
            *[sys.executable, str(BENCHMARKS / "bench_tui.py"), "--pages", "40", "--rounds", "1"],
            *["--sizes", "80x24", "--server", "python", "--out", str(tmp_path / "out")],
            *["--json", str(figures)],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    (only_round,) = json.loads(figures.read_text())
    assert set(only_round) == {"headless", "detached", "app 80x24"}
    for crawl in only_round.values():
        assert crawl["status"] == "completed" and crawl["pages"] == 40
        assert crawl["seconds"] > 0 and crawl["tree_cpu_s"] > 0
    app = only_round["app 80x24"]
    # The app drew a screen (Textual's start-up alone is far above this) and so did tmux; the
    # tree holds both, and the worker's crawl.
    assert app["app_cpu_s"] > 0.1 and app["tmux_cpu_s"] >= 0
    assert app["tree_cpu_s"] > app["app_cpu_s"] + app["tmux_cpu_s"]
    assert "app 80x24 / detached (the screen alone)" in stdout and "worker CPU" in stdout
    # Its tmux server is gone, and its socket file with it.
    sockets = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
    assert not list(sockets.glob(f"bench-tui-{proc.pid}-*"))
