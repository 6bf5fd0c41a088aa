"""The contract fixtures: every test runs once per backend in BACKENDS, on empty storage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .backends import BACKENDS, ContractStore, Harness


@pytest.fixture(params=sorted(BACKENDS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    made = BACKENDS[request.param](tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
async def backend(harness: Harness) -> AsyncIterator[ContractStore]:
    store = await harness.open()
    try:
        yield store
    finally:
        await store.close()
