"""The channel is core code: it never loads Textual or Rich, and never prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULES = [
    "tui_scraper.runtime.channel.protocol",
    "tui_scraper.runtime.channel.paths",
    "tui_scraper.runtime.channel.peer",
    "tui_scraper.runtime.channel.listener",
    "tui_scraper.runtime.channel.admission",
    "tui_scraper.runtime.channel.server",
    "tui_scraper.service.channel_client",
    "tui_scraper.service.reconnect",
]
PACKAGE = Path(__file__).resolve().parents[2] / "tui_scraper"


def test_channel_modules_import_without_textual_or_rich() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in MODULES)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_channel_code_never_prints() -> None:
    # Messages carry site text: only a screen that makes it display-safe may show it.
    for name in MODULES:
        source = (PACKAGE.parent / (name.replace(".", "/") + ".py")).read_text()
        assert "print(" not in source and "sys.stdout" not in source, name
