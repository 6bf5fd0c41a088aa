"""Screens reach the App only through the ScraperHost Protocol and Messages, never by
importing it or calling its commands."""

from __future__ import annotations

import ast
from pathlib import Path

import tui_scraper.ui.screens as screens_pkg

SCREENS = Path(screens_pkg.__file__).parent


def _imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (TYPE_CHECKING blocks included)."""
    package = "tui_scraper.ui.screens"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_scan_sees_a_relative_import_of_the_app(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..app import ScraperApp\n"
        "from .. import app\n"
    )
    assert "tui_scraper.ui.app" in _imports(probe)
    assert "tui_scraper.ui.app.ScraperApp" in _imports(probe)


def test_no_screen_imports_the_app_module() -> None:
    modules = sorted(SCREENS.glob("*.py"))
    assert len(modules) >= 8
    offenders = {
        path.name: sorted(
            n
            for n in _imports(path)
            if n == "tui_scraper.ui.app" or n.startswith("tui_scraper.ui.app.")
        )
        for path in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_screen_reaches_into_private_app_state() -> None:
    for path in sorted(SCREENS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("_manager", "_service"):
                raise AssertionError(f"{path.name}:{node.lineno} reaches {node.attr}")


# The App's command methods: a screen posts a Message (ui/messages.py) instead of calling one.
APP_COMMANDS = {
    "start_session",
    "resume_and_show",
    "dismiss_session",
    "submit_new_session",
    "create_and_start",
    "show_progress",
    "show_detail",
    "show_new_session",
    "show_recovery",
    "ask_export",
}


def _command_calls(path: Path) -> list[str]:
    """`x.start_session(...)`-style calls of an App command in `path`, as 'line:name'."""
    return [
        f"{node.lineno}:{node.func.attr}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in APP_COMMANDS
    ]


def test_the_scan_sees_a_command_called_on_the_app(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "async def f(self):\n    await self.scraper.start_session('x')\n"
        "    self.app.show_detail('x')\n"
    )
    assert sorted(_command_calls(probe)) == ["2:start_session", "3:show_detail"]


def test_no_screen_calls_an_app_command() -> None:
    offenders = {path.name: _command_calls(path) for path in sorted(SCREENS.glob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_host_protocol_offers_no_command() -> None:
    from tui_scraper.ui.host import ScraperHost

    members = {name for name in dir(ScraperHost) if not name.startswith("_")}
    assert members & APP_COMMANDS == set()
    assert {"service", "say", "now", "sessions_changed"} <= members | set(
        ScraperHost.__annotations__
    )
