"""The app's Export dialog offers WARC: the file name follows the format, the export runs
through the service, and the file written reads back as WARC."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select
from warcio.archiveiterator import ArchiveIterator

from tests.ui.conftest import clock, config_dir, make_app, seeder, service
from tests.ui.helpers import toasts, until
from tests.ui.scripted import ScriptedService
from tests.ui.seed import Seeder, seed_history
from tests.ui.test_export import _dialog

__all__ = ["clock", "config_dir", "seeder", "service"]  # the UI suite's fixtures


async def test_warc_is_a_choice_of_the_export_dialog(
    service: ScriptedService, seeder: Seeder, tmp_path: Path
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    app.export_dir = tmp_path
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        dialog = await _dialog(pilot, app, service, seeder)
        box = dialog.query_one("#path", Input)
        assert box.value.endswith(".jsonl")
        dialog.query_one("#format", Select).value = "warc"
        await until(pilot, lambda: box.value.endswith(".warc.gz"))
        target = Path(box.value)
        await pilot.press("enter")
        await until(pilot, lambda: "Exported" in toasts(app))
    assert [c[1][1] for c in service.calls if c[0] == "export"] == ["warc"]
    with target.open("rb") as fh:
        assert next(iter(ArchiveIterator(fh))).rec_type == "warcinfo"
