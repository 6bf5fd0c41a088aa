"""The README's Screens table and screenshots/ agree: every SVG is shown with a caption, none
is shown that does not exist, and scripts/make_screenshots.py makes each one (so a rerun
regenerates them all and leaves none stale)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
IMAGE = re.compile(r"!\[[^\]]*\]\(screenshots/([^)\s]+)\.svg\)")


def screens_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Screens\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def on_disk() -> set[str]:
    return {path.stem for path in (ROOT / "screenshots").glob("*.svg")}


def test_every_screenshot_is_shown_once_and_every_one_shown_exists() -> None:
    shown = IMAGE.findall(screens_section())
    assert len(shown) == len(set(shown)), shown
    assert set(shown) == on_disk()


def test_every_screenshot_has_a_caption() -> None:
    for row in screens_section().splitlines():
        for cell in row.strip().strip("|").split("|"):
            for match in IMAGE.finditer(cell):
                caption = cell[: match.start()].strip()
                assert len(caption) > 10, f"{match.group(1)}: no caption"


def test_the_script_makes_every_screenshot() -> None:
    script = (ROOT / "scripts" / "make_screenshots.py").read_text(encoding="utf-8")
    made = re.findall(r"shot\(app, out, \"(\w+)\"\)", script)
    assert len(made) == len(set(made)), made
    assert set(made) == on_disk()
