"""The Pilot tests' FakeManager must not drift from the SessionManager it stands in for.

The screens talk to the real LocalSessionService (mypy checks it against the SessionService
Protocol); only the manager beneath it is faked in tests/ui. Every manager method and handle
member the local service uses must exist on the fake with the same parameters.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import tui_scraper.service.local as local
from tui_scraper.runtime.manager import CrawlHandle, SessionManager

from .fakes import FakeHandle, FakeManager


def _used_manager_members() -> set[str]:
    """Attribute names the local service reads off `self._manager` (found by ast, not listed)."""
    tree = ast.parse(Path(local.__file__).read_text(encoding="utf-8"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "_manager"
    }


def _params(fn: object) -> list[tuple[str, object, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
    ]


def test_the_scan_finds_the_members_the_service_uses() -> None:
    used = _used_manager_members()
    assert {"start", "handle", "running", "pages_after", "close"} <= used


def test_fake_manager_has_every_member_the_service_uses_with_the_same_parameters() -> None:
    # `store` only serves the forced-exit path (an ExitGuard), which Pilot tests never attach.
    for name in sorted(_used_manager_members() - {"store"}):
        real = getattr(SessionManager, name)
        assert hasattr(FakeManager, name) or name == "data_dir", f"FakeManager lacks {name}"
        if callable(real):
            assert _params(getattr(FakeManager, name)) == _params(real), name
            assert inspect.iscoroutinefunction(getattr(FakeManager, name)) == (
                inspect.iscoroutinefunction(real)
            ), name


def test_fake_handle_has_the_handle_members_the_service_uses() -> None:
    for name in ("pause", "cancel", "wait", "done", "stats", "session_id"):
        assert hasattr(CrawlHandle, name) or name in CrawlHandle.__dataclass_fields__, name
    for name in ("pause", "cancel", "wait"):
        assert _params(getattr(FakeHandle, name)) == _params(getattr(CrawlHandle, name)), name
        assert inspect.iscoroutinefunction(getattr(FakeHandle, name)) == (
            inspect.iscoroutinefunction(getattr(CrawlHandle, name))
        ), name
