"""The saved theme, a corrupt settings file, and the palette's Screenshot on a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_scraper.service import SessionService
from tui_scraper.service.local import LocalSessionService
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.settings import SETTINGS_FILE, Settings, load_settings, save_settings

from .conftest import make_app
from .helpers import toasts, until
from .scripted import ScriptedService
from .seed import Seeder


async def test_the_chosen_theme_is_used_at_the_next_start(
    service: ScriptedService, config_dir: Path, tmp_path: Path
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme != "nord"
        app.theme = "nord"  # what the palette's Theme command does
        await until(pilot, lambda: (config_dir / SETTINGS_FILE).exists())
    assert json.loads((config_dir / SETTINGS_FILE).read_text()) == {"theme": "nord"}
    again = ScraperApp(tmp_path / "again", sample_hz=None, cursor_blink=False)
    async with again.run_test() as pilot:
        await pilot.pause()
        assert again.theme == "nord"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"theme": 42}', b"\xff\xfe\x00garbage", b'{"theme": "no-such"}'],
)
async def test_a_corrupt_settings_file_is_ignored_with_a_notice(
    service: ScriptedService, config_dir: Path, content: bytes, tmp_path: Path
) -> None:
    (config_dir / SETTINGS_FILE).write_bytes(content)
    default = ScraperApp(tmp_path / "unused", sample_hz=None, cursor_blink=False)
    app = make_app(service)
    async with app.run_test(notifications=True) as pilot:
        await until(pilot, lambda: "ignored" in toasts(app) or "not available" in toasts(app))
        assert app.theme == default.theme
        assert app.is_running


def test_settings_round_trip_and_atomic_write(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "config"
    assert load_settings(folder).settings == Settings()  # missing: defaults, no notice
    assert load_settings(folder).problem is None
    path = save_settings(Settings(theme="gruvbox"), folder)
    assert path == folder / SETTINGS_FILE
    assert load_settings(folder).settings.theme == "gruvbox"
    assert [p.name for p in folder.iterdir()] == [SETTINGS_FILE]  # no temp file left behind
    assert folder.stat().st_mode & 0o777 == 0o700


async def test_screenshot_without_a_downloads_folder_goes_to_the_data_dir(
    service: ScriptedService, seeder: Seeder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"  # a server account: no ~/Downloads
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    data = service.data_dir  # the one resolve_data_dir chose for the service
    app = make_app(service)
    async with app.run_test(notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Screenshot")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: list(data.glob("*.svg")) and "Screenshot saved" in toasts(app))
        (shot,) = data.glob("*.svg")
        assert str(shot) in toasts(app)
        assert shot.read_text(encoding="utf-8").startswith("<svg")
        assert not (home / "Downloads").exists()


async def test_screenshot_before_the_service_is_open_goes_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    ready_before: list[bool] = []

    async def opening(data_dir: Path) -> SessionService:
        # The first frames of a start: no service yet, so no data dir to use.
        ready_before.append(app.service_ready)
        app.action_screenshot()  # what Textual's own screenshot key would run
        return await LocalSessionService.open(data_dir)

    app = ScraperApp(tmp_path / "data", open_service=opening, sample_hz=None)
    async with app.run_test(notifications=True) as pilot:
        await until(pilot, lambda: "Screenshot saved" in toasts(app))
        assert ready_before == [False]
        (shot,) = tmp_path.glob("*.svg")
        assert str(shot) in toasts(app)
