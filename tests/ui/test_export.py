"""The export dialog: overwriting asks first, a bad path keeps the dialog open with the error."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Label

from tui_scraper.domain import Status
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.export import ExportScreen
from tui_scraper.ui.screens.sessions import SessionsScreen

from .conftest import make_app
from .helpers import toasts, until
from .scripted import ScriptedService
from .seed import Seeder, seed_history


async def _dialog(pilot, app, service: ScriptedService, seeder: Seeder) -> ExportScreen:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await pilot.press("escape")  # recovery → sessions
    await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
    await pilot.pause()
    screen = app.screen
    done = next(r for r in seeder.created if r.status is Status.COMPLETED)
    table = screen.query_one("#sessions-table")
    table.move_cursor(row=table.get_row_index(done.id))  # type: ignore[attr-defined]
    await pilot.pause()
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, ExportScreen))
    assert isinstance(app.screen, ExportScreen)
    return app.screen


def _error(dialog: ExportScreen) -> str:
    return str(dialog.query_one("#export-error", Label).content)


async def test_an_existing_file_is_overwritten_only_after_yes(
    service: ScriptedService, seeder: Seeder, tmp_path: Path
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    app.export_dir = tmp_path
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        dialog = await _dialog(pilot, app, service, seeder)
        target = Path(dialog.query_one("#path", Input).value)
        target.write_text("precious\n")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is dialog)
        assert target.read_text() == "precious\n"
        assert not [c for c in service.calls if c[0] == "export"]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "Exported 3 rows" in toasts(app))
        assert isinstance(app.screen, SessionsScreen)
        assert len(target.read_text().splitlines()) == 3


async def test_a_bad_path_keeps_the_dialog_open_with_the_error(
    service: ScriptedService, seeder: Seeder, tmp_path: Path
) -> None:
    await seed_history(seeder)
    app = make_app(service)
    app.export_dir = tmp_path
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await _dialog(pilot, app, service, seeder)
        box = dialog.query_one("#path", Input)
        for bad, message in [
            (str(tmp_path / "no-such-folder" / "x.jsonl"), "does not exist"),
            (str(tmp_path), "is a directory"),
        ]:
            box.value = bad
            await pilot.press("enter")
            await until(pilot, lambda m=message: m in _error(dialog))  # type: ignore[misc]
            assert app.screen is dialog
        # The export itself fails (the manager raises): still in the dialog, with the reason.

        async def refuse(fmt: str, path: Path, progress: object) -> int:
            raise PermissionError(13, "Permission denied", str(path))

        dialog.exporter = refuse
        box.value = str(tmp_path / "out.jsonl")
        await pilot.press("enter")
        await until(pilot, lambda: "Permission denied" in _error(dialog))
        assert app.screen is dialog
        assert app.focused is box  # ready to be corrected
