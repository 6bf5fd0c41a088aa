"""A recrawl's reads, on every backend: validators stored per page and looked up for a batch of
URLs, and a session's pages streamed in URL (code point) order for the diff of two sessions."""

from __future__ import annotations

import dataclasses

from tui_scraper.domain import PageResult, PageStatus, Progress
from tui_scraper.domain.records import PreviousPage

from .backends import ContractStore
from .helpers import SITE, done, links, running_session

# Code point order puts "Z" before "_" before "a" before "ä": a locale collation would not.
NAMES = ["alpha", "Zeta", "_under", "ä-umlaut", "beta", "a b", "A"]


async def _session_with(
    store: ContractStore, names: list[str], *, failed: tuple[str, ...] = ()
) -> tuple[str, dict[str, PageResult]]:
    """A session whose seed linked to `names`; each page stored with validators of its name,
    except those in `failed` (HTTP 500, nothing stored)."""
    session_id = await running_session(store)
    [seed] = await store.claim_batch(session_id, 1, now=0)
    await store.checkpoint(
        session_id, [done(seed.id, seed.url, links(seed.id, 1, names))], Progress(), heartbeat=1
    )
    results: dict[str, PageResult] = {}
    for page in await store.claim_batch(session_id, len(names), now=0):
        name = page.url.rsplit("/", 1)[1]
        if name in failed:
            result = dataclasses.replace(
                done(page.id, page.url), status=PageStatus.FAILED, http_status=500
            )
        else:
            sha, path = store.blobs.write(f"<p>{name}</p>".encode())
            result = dataclasses.replace(
                done(page.id, page.url),
                content_type="text/html",
                encoding="utf-8",
                content_hash=sha,
                storage_path=path,
                etag=f'"{name}"',
                last_modified="Tue, 14 Nov 2023 22:13:20 GMT",
            )
        results[page.url] = result
    await store.checkpoint(session_id, list(results.values()), Progress(), heartbeat=2)
    return session_id, results


async def test_validators_are_stored_and_read_back(backend: ContractStore) -> None:
    session_id, _ = await _session_with(backend, ["one"])
    [page] = [p async for p in backend.iter_pages(session_id) if p.url.endswith("/one")]
    assert page.etag == '"one"' and page.last_modified == "Tue, 14 Nov 2023 22:13:20 GMT"
    seed = await backend.seed_page(session_id)
    assert seed is not None and seed.etag is None and seed.last_modified is None


async def test_previous_pages_names_the_stored_pages_of_a_batch(backend: ContractStore) -> None:
    session_id, results = await _session_with(backend, ["a", "b", "c"], failed=("c",))
    other, _ = await _session_with(backend, ["a"])
    wanted = [f"{SITE}/a", f"{SITE}/c", f"{SITE}/nowhere"]
    found = await backend.previous_pages(session_id, wanted)
    stored = results[f"{SITE}/a"]
    assert found == {
        f"{SITE}/a": PreviousPage(
            url=f"{SITE}/a",
            etag='"a"',
            last_modified="Tue, 14 Nov 2023 22:13:20 GMT",
            content_hash=stored.content_hash or "",
            storage_path=stored.storage_path or "",
            content_type="text/html",
            encoding="utf-8",
        )
    }
    assert await backend.previous_pages(session_id, []) == {}
    # Many more URLs than one statement's parameters in SQLite's chunks: one call answers all.
    many = [f"{SITE}/x{i}" for i in range(1200)] + [f"{SITE}/b"]
    assert list(await backend.previous_pages(session_id, many)) == [f"{SITE}/b"]
    assert list(await backend.previous_pages(other, wanted)) == [f"{SITE}/a"]


async def test_page_states_come_in_code_point_order(backend: ContractStore) -> None:
    session_id, results = await _session_with(backend, NAMES, failed=("beta",))
    await _session_with(backend, ["zzz-other-session"])
    states = [s async for s in backend.iter_page_states(session_id, batch=3)]
    urls = [s.url for s in states]
    assert urls == sorted([f"{SITE}/", *(f"{SITE}/{n}" for n in NAMES)])
    by_url = {s.url: s for s in states}
    alpha = by_url[f"{SITE}/alpha"]
    assert alpha.status is PageStatus.DONE and alpha.http_status == 200
    assert alpha.content_hash == results[f"{SITE}/alpha"].content_hash
    assert alpha.storage_path == results[f"{SITE}/alpha"].storage_path
    assert alpha.encoding == "utf-8"
    beta = by_url[f"{SITE}/beta"]
    assert beta.status is PageStatus.FAILED and beta.content_hash is None
    assert [s async for s in backend.iter_page_states("0" * 32)] == []
