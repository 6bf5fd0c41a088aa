"""The saved theme, a corrupt settings file, and the palette's Screenshot on a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_scraper.ui.settings import SETTINGS_FILE, Settings, load_settings, save_settings

from .conftest import make_app
from .fakes import FakeManager
from .helpers import toasts, until


async def test_the_chosen_theme_is_used_at_the_next_start(
    manager: FakeManager, config_dir: Path
) -> None:
    app = make_app(manager)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme != "nord"
        app.theme = "nord"  # what the palette's Theme command does
        await until(pilot, lambda: (config_dir / SETTINGS_FILE).exists())
    assert json.loads((config_dir / SETTINGS_FILE).read_text()) == {"theme": "nord"}
    again = make_app(FakeManager())
    async with again.run_test() as pilot:
        await pilot.pause()
        assert again.theme == "nord"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"theme": 42}', b"\xff\xfe\x00garbage", b'{"theme": "no-such"}'],
)
async def test_a_corrupt_settings_file_is_ignored_with_a_notice(
    manager: FakeManager, config_dir: Path, content: bytes
) -> None:
    (config_dir / SETTINGS_FILE).write_bytes(content)
    default = make_app(FakeManager())
    app = make_app(manager)
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
    manager: FakeManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"  # a server account: no ~/Downloads
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    data = tmp_path / "data"
    data.mkdir()
    manager.data_dir = data
    app = make_app(manager)
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


async def test_screenshot_without_a_data_dir_goes_to_the_current_directory(
    manager: FakeManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    app = make_app(manager)  # the fake manager has no data dir
    async with app.run_test(notifications=True) as pilot:
        await pilot.pause()
        app.action_screenshot()  # what Textual's own screenshot key would run
        await until(pilot, lambda: "Screenshot saved" in toasts(app))
        (shot,) = tmp_path.glob("*.svg")
        assert str(shot) in toasts(app)
