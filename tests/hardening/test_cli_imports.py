"""The CLI reaches sessions only through the service, and the service reaches the engine and the
backends only through the runtime.

The import-linter contracts in pyproject.toml say the same; this test makes `pytest` say it too,
so a layer crossing fails the suite even where lint-imports is not run. Every import counts:
absolute or relative, at the top of a module or inside a function (the lazy imports the CLI
uses to start fast are exactly where a shortcut to a backend would hide).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tui_scraper

PACKAGE_DIR = Path(tui_scraper.__file__).parent

FORBIDDEN = {
    "tui_scraper.cli": ("tui_scraper.backends", "tui_scraper.engine", "tui_scraper.runtime"),
    "tui_scraper.service": ("tui_scraper.backends", "tui_scraper.engine"),
}


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module `source` (the text of `module`) imports, relative imports made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # `from .. import engine` imports a module too.
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def crossings(layer: str) -> list[str]:
    root = PACKAGE_DIR.joinpath(*layer.split(".")[1:])
    bad: list[str] = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        for name in imported_modules(path.read_text(), module, is_package=is_package):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{module} imports {name}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_below_its_door(layer: str) -> None:
    assert crossings(layer) == []


def test_the_check_sees_lazy_and_relative_imports() -> None:
    # What the CLI did before it went through the service: each of these must be seen.
    source = (
        "from ..backends.sqlite.secrets import secrets_problem\n"
        "from .. import engine\n"
        "def f():\n"
        "    from ..runtime.manager import SessionManager\n"
        "    import tui_scraper.backends.sqlite\n"
    )
    found = imported_modules(source, "tui_scraper.cli.run")
    assert "tui_scraper.backends.sqlite.secrets" in found
    assert "tui_scraper.engine" in found
    assert "tui_scraper.runtime.manager" in found
    assert "tui_scraper.backends.sqlite" in found
    init = imported_modules("from .local import X\n", "tui_scraper.service", is_package=True)
    assert "tui_scraper.service.local" in init
