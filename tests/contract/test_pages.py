"""Reading pages back: keyset pages, search, one page by id, the newest fetched; and the result
of a redirect target stored under its own URL."""

from __future__ import annotations

import dataclasses

import pytest

from tui_scraper.domain import PageResult, PageStatus, Progress
from tui_scraper.domain.errors import PageNotFound

from .backends import ContractStore, Harness
from .helpers import SITE, done, links, running_session


async def _crawled(store: ContractStore, names: list[str]) -> str:
    """A session whose seed linked to `names`, every page fetched with a title of its name."""
    session_id = await running_session(store)
    [seed] = await store.claim_batch(session_id, 1, now=0)
    await store.checkpoint(
        session_id, [done(seed.id, seed.url, links(seed.id, 1, names))], Progress(), heartbeat=1
    )
    claimed = await store.claim_batch(session_id, len(names), now=0)
    results = [
        dataclasses.replace(done(p.id, p.url), title=p.url.rsplit("/", 1)[1].upper())
        for p in claimed
    ]
    await store.checkpoint(session_id, results, Progress(), heartbeat=2)
    return session_id


async def test_keyset_pages_walk_every_row_once_in_id_order(backend: ContractStore) -> None:
    names = [f"p{i:02}" for i in range(23)]
    session_id = await _crawled(backend, names)
    await _crawled(backend, ["other"])  # another session's rows never show up
    seen: list[int] = []
    after = 0
    while page := await backend.pages_after(session_id, after_id=after, limit=5):
        seen += [p.id for p in page]
        after = page[-1].id
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 24
    iterated = [p.id async for p in backend.iter_pages(session_id, batch=4)]
    assert iterated == seen
    done_only = [p.id async for p in backend.iter_pages(session_id, status=PageStatus.DONE)]
    assert done_only == seen
    assert [p async for p in backend.iter_pages(session_id, status=PageStatus.FAILED)] == []


async def test_search_matches_url_or_title_and_takes_wildcards_literally(
    backend: ContractStore,
) -> None:
    session_id = await _crawled(backend, ["alpha", "beta", "100%", "a_b", "axb"])
    found = await backend.pages_after(session_id, search="ALPHA")  # title, any case
    assert [p.url for p in found] == [f"{SITE}/alpha"]
    assert [p.url for p in await backend.pages_after(session_id, search="%")] == [f"{SITE}/100%"]
    assert [p.url for p in await backend.pages_after(session_id, search="a_b")] == [f"{SITE}/a_b"]
    assert len(await backend.pages_after(session_id, search="127.0.0.1", limit=2)) == 2
    assert await backend.pages_after(session_id, search="nowhere") == []
    beta = await backend.pages_after(session_id, status=PageStatus.QUEUED, search="beta")
    assert beta == []


async def test_get_page_recent_pages_and_seed(backend: ContractStore) -> None:
    session_id = await _crawled(backend, ["a", "b", "c"])
    recent = await backend.recent_pages(session_id, 2)
    assert [p.fetched_at for p in recent] == sorted((p.fetched_at for p in recent), reverse=True)
    assert len(recent) == 2
    page = await backend.get_page(recent[0].id)
    assert page == recent[0] and page.session_id == session_id and page.title
    seed = await backend.seed_page(session_id)
    assert seed is not None and seed.url == f"{SITE}/" and seed.depth == 0
    assert seed.status is PageStatus.DONE and seed.http_status == 200
    with pytest.raises(PageNotFound):
        await backend.get_page(10_000_000)


async def test_a_redirect_target_is_stored_under_its_own_url_once(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(
        session_id,
        [done(seed.id, seed.url, links(seed.id, 1, ["queued"]))],
        Progress(),
        heartbeat=1,
    )

    def target(name: str) -> PageResult:
        result = dataclasses.replace(done(0, f"{SITE}/{name}"), page_id=None, depth=1)
        return dataclasses.replace(result, parent_id=seed.id, title=f"target {name}")

    # A target nobody holds is inserted settled; a queued one is settled in place.
    assert (
        await backend.checkpoint(
            session_id, [target("new"), target("queued")], Progress(), heartbeat=2
        )
        == 0
    )
    assert await backend.page_status(session_id, f"{SITE}/new") is PageStatus.DONE
    assert await backend.page_status(session_id, f"{SITE}/queued") is PageStatus.DONE
    assert sum((await backend.page_counts(session_id)).values()) == 3
    # A target already settled, or being fetched under its own name, keeps its own row.
    await backend.checkpoint(
        session_id,
        [done(seed.id, seed.url, links(seed.id, 1, ["fetching"]))],
        Progress(),
        heartbeat=4,
    )
    [fetching] = await backend.claim_batch(session_id, 1, now=0)
    failed = dataclasses.replace(target("new"), status=PageStatus.FAILED)
    await backend.checkpoint(session_id, [failed, target("fetching")], Progress(), heartbeat=5)
    assert await backend.page_status(session_id, f"{SITE}/new") is PageStatus.DONE
    assert await backend.page_status(session_id, fetching.url) is PageStatus.FETCHING
    [row] = await backend.pages_after(session_id, search="/new")
    assert row.title == "target new"


async def test_missing_content_names_the_done_pages_whose_stored_content_is_gone(
    backend: ContractStore, harness: Harness
) -> None:
    """What an export asks before it trusts the rows it wrote: which done pages no longer have
    their content (removed, or emptied though the page had bytes). Pages that name no content
    (failed, skipped, queued) are never reported."""
    session_id = await running_session(backend)
    [seed] = await backend.claim_batch(session_id, 1, now=0)
    await backend.checkpoint(
        session_id, [done(seed.id, seed.url, links(seed.id, 1, ["kept", "gone", "empty"]))],
        Progress(), heartbeat=1,
    )  # fmt: skip
    claimed = {p.url.rsplit("/", 1)[1]: p for p in await backend.claim_batch(session_id, 3, now=0)}
    results = []
    for name, page in claimed.items():
        body = f"<html><title>{name}</title>{name * 50}</html>".encode()
        sha, rel = backend.blobs.write(body)
        results.append(
            dataclasses.replace(
                done(page.id, page.url), content_hash=sha, storage_path=rel, size=len(body)
            )
        )
    await backend.checkpoint(session_id, results, Progress(done=4), heartbeat=2)
    stored = {r.url.rsplit("/", 1)[1]: r.storage_path for r in results}
    pages = [p async for p in backend.iter_pages(session_id)]
    assert await backend.missing_content(pages) == []
    harness.remove_blob(str(stored["gone"]))
    harness.damage_blob(str(stored["empty"]), b"")
    missing = await backend.missing_content(pages)
    assert sorted(missing) == sorted([claimed["gone"].url, claimed["empty"].url])
    assert await backend.missing_content([]) == []
