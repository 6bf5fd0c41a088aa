"""Compare two sessions: in the app (c, then c on another) and with `stats A --compare B`."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import DataTable

from tests.engine.conftest import cli
from tests.ui.conftest import make_app
from tests.ui.helpers import screen_text, toasts, until
from tests.ui.scripted import ScriptedService
from tests.ui.seed import T0, Seeder
from tui_scraper.domain import Progress, Status
from tui_scraper.ui.screens.analytics import CompareScreen

from .seeding import seed_analytics
from .test_stats_cli import MixedSite


async def _two(service: ScriptedService, seeder: Seeder) -> tuple[str, str]:
    first = await seeder.add("http://demo.test/", Status.COMPLETED, progress=Progress(done=5))
    second = await seeder.add("http://demo.test/", Status.COMPLETED, progress=Progress(done=5))
    db = service.manager.store.db_path
    seed_analytics(db, first.id, T0 - 3000, pages=400)
    seed_analytics(db, second.id, T0 - 2000, pages=300, seed=3)
    return first.id, second.id


async def test_c_marks_a_session_and_c_on_another_compares_them(
    service: ScriptedService, seeder: Seeder
) -> None:
    a, b = await _two(service, seeder)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await until(
            pilot,
            lambda: app.screen.query(DataTable) and app.screen.query_one(DataTable).row_count == 2,
        )
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(a))
        await pilot.press("c")
        await until(pilot, lambda: "marked" in toasts(app))
        assert not isinstance(app.screen, CompareScreen)
        table.move_cursor(row=table.get_row_index(b))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await until(pilot, lambda: screen.comparison is not None)
        comparison = screen.comparison
        assert comparison is not None
        assert (comparison.a.session_id, comparison.b.session_id) == (a, b)
        pages = next(r for r in comparison.rows if r.label == "pages")
        assert pages.differs and pages.a == 392 and pages.b is not None and pages.b < 392
        text = screen_text(app)
        assert "figures differ (marked *)" in text
        assert "worse" in text or "better" in text
        await pilot.press("x")  # swap: B is now the first
        assert screen.comparison is not None and screen.comparison.a.session_id == b
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


def test_stats_compare_marks_the_differences(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with MixedSite(good=10) as small, MixedSite(good=20) as large:
        for site in (small, large):
            crawl = cli(data, "crawl", site.server.base + "/", "--headless")
            assert crawl.returncode == 0, crawl.stderr
    listed = json.loads(cli(data, "sessions", "--json").stdout)
    first, second = sorted(listed, key=lambda s: s["created_at"])
    result = cli(data, "stats", first["id"], "--compare", second["id"][:8], "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    diff = {row["metric"]: row for row in figures["diff"]}
    assert figures["a"]["pages"] + 10 == figures["b"]["pages"]
    assert diff["pages"]["delta"] == 10 and diff["pages"]["differs"]
    assert not diff["4xx"]["differs"] and diff["4xx"]["delta"] == 0
    text = cli(data, "stats", first["id"], "--compare", second["id"])
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    pages_line = next(line for line in lines if line.split()[1:2] == ["pages"])
    assert pages_line.startswith("*") and "+10" in pages_line
    four = next(line for line in lines if " 4xx " in line)
    assert not four.startswith("*") and four.rstrip().endswith("=")
    assert all(len(line) <= 80 for line in lines)
    bad = cli(data, "stats", first["id"], "--compare", "ffffffff")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
