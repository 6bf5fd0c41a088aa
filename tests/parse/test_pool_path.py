"""Parse workers run this package's code even when started from a directory that holds another
`tui_scraper` (a checkout of an older version): the child's `python -c` must not import from the
current directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tui_scraper

PROBE = """
import asyncio
from tui_scraper.engine.parse import PageJob
from tui_scraper.engine.parse_pool import ParsePool
from tui_scraper.engine.urls import Scope

async def main():
    pool = ParsePool(workers=1)
    try:
        job = PageJob(
            url="http://127.0.0.1/", depth=0, body=b"<title>real</title>", charset=None,
            is_html=True, rules=(), scope=Scope.build("http://127.0.0.1/"),
        )
        print((await pool.process(job)).title)
    finally:
        await pool.aclose()

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_workers_ignore_a_decoy_package_in_the_current_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    decoy = work / "tui_scraper"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('decoy tui_scraper imported')\n")
    # A script elsewhere: its own sys.path starts at its directory, as an installed console
    # script's does; only a child started with `python -c` would look in the current directory.
    script = tmp_path / "probe" / "probe.py"
    script.parent.mkdir()
    script.write_text(PROBE)
    real_root = Path(tui_scraper.__file__).resolve().parent.parent
    env = {"PYTHONPATH": str(real_root), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "real", (run.stdout, run.stderr)
