"""The core never imports the UI: headless runs must not load Textual (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "tui_scraper.domain",
    "tui_scraper.backends.sqlite",
    "tui_scraper.engine.crawler",
    "tui_scraper.engine.parse",
    "tui_scraper.engine.parse_pool",
    "tui_scraper.engine.fetch_pool",
    "tui_scraper.engine.fetch_worker",
    "tui_scraper.runtime.manager",
    "tui_scraper.runtime.worker",
    "tui_scraper.export",
    "tui_scraper.cli",
    "tui_scraper.formatting",
    "tui_scraper.service",
    "tui_scraper.service.local",
    "tui_scraper.demo",
]


def test_core_imports_without_textual_or_rich() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        + "bad += sorted(m for m in sys.modules if m.startswith('tui_scraper.ui'))\n"
        + "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_headless_cli_never_loads_textual(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from tui_scraper.cli import main\n"
        f"code = main(['--data-dir', {str(tmp_path)!r}, 'sessions', '--json'])\n"
        "assert code == 0\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'textual'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


async def test_sniffio_is_installed_for_httpcore() -> None:
    # Without sniffio, httpcore retries the import on every request and
    # httpx runs about 2x slower. It is a declared dependency; this notices if it goes missing.
    from importlib.metadata import requires

    import sniffio

    declared = [r.split(">")[0].split("=")[0].strip() for r in requires("tui-scraper") or []]
    assert "sniffio" in declared
    assert sniffio.current_async_library() == "asyncio"  # what httpcore asks on every lock
