"""The SQLite store satisfies the ports the engine and the runtime are typed against.

mypy proves it where the package builds a runner from the SQLite store (a typed assignment in
runtime/worker.py `run_session_in`; `mypy` checks the package) and here when tests are checked;
this test proves it at run time, member by member, so a drift shows in the test run too.
"""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path
from typing import Any

import pytest

from tui_scraper import ports
from tui_scraper.backends.sqlite import BlobStore, Store
from tui_scraper.ports import BlobWriter, EngineStore, RuntimeStore, SessionStore


def _port_members(protocol: type) -> dict[str, Any]:
    """The members a port declares, through the ports it is composed of."""
    members: dict[str, Any] = {}
    for cls in reversed(protocol.__mro__):
        if cls.__module__ != ports.__name__:
            continue
        for name, value in vars(cls).items():
            if not name.startswith("_"):
                members[name] = value
    return members


def _assert_conforms(port_fn: Any, impl_fn: Any, name: str) -> None:
    assert inspect.iscoroutinefunction(port_fn) == inspect.iscoroutinefunction(impl_fn), name
    assert inspect.isasyncgenfunction(impl_fn) or not inspect.isasyncgenfunction(port_fn), name
    wanted = inspect.signature(port_fn).parameters
    given = inspect.signature(impl_fn).parameters
    for param in wanted.values():
        assert param.name in given, f"{name} lacks {param.name}"
        other = given[param.name]
        assert other.kind == param.kind, f"{name}({param.name}): {other.kind} != {param.kind}"
        assert other.default == param.default, f"{name}({param.name}) default differs"
    for extra in set(given) - set(wanted):
        assert given[extra].default is not inspect.Parameter.empty, f"{name}({extra}) required"


@pytest.mark.parametrize("port", [RuntimeStore, SessionStore], ids=lambda p: p.__name__)
def test_every_port_member_is_on_the_sqlite_store_with_a_compatible_signature(
    port: type,
) -> None:
    members = _port_members(port)
    assert {"claim_batch", "checkpoint", "acquire_run", "transition", "blobs"} <= set(members)
    for name, declared in members.items():
        implemented = getattr(Store, name, None)
        if isinstance(declared, property):
            continue  # blobs, readonly: attributes or properties, checked below
        assert implemented is not None, f"Store lacks {name}"
        _assert_conforms(declared, implemented, name)
    _assert_conforms(BlobWriter.write, BlobStore.write, "blobs.write")


async def test_the_sqlite_store_is_typed_as_both_ports(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "data") as store:
        session_store: SessionStore = store
        runtime_store: RuntimeStore = session_store
        engine_store: EngineStore = runtime_store
        assert session_store.readonly is False
        assert isinstance(store.blobs, BlobStore)
        # The parse pool hands the writer to its worker processes: it must survive pickling.
        writer: BlobWriter = pickle.loads(pickle.dumps(engine_store.blobs))
        sha, rel = writer.write(b"<p>hello</p>", sync=False)
        assert (store.data_dir / rel).is_file() and rel.endswith(sha)


def test_no_port_names_sqlite() -> None:
    source = Path(ports.__file__).read_text(encoding="utf-8")
    for word in ("sqlite", "aiosqlite", "Connection", "Cursor", "db_path", "data_dir", "Path"):
        assert word not in source, word
    assert not hasattr(ports, "CrawlStore")
