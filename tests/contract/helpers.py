"""Small builders shared by the contract tests (public API only)."""

from __future__ import annotations

import os
import time

from tui_scraper.domain import CrawlConfig, DiscoveredLink, LeaseOwner, PageResult, PageStatus
from tui_scraper.domain.status import Status

from .backends import ContractStore

SITE = "http://127.0.0.1:9"


def config(url: str = f"{SITE}/", **changes: object) -> CrawlConfig:
    return CrawlConfig(target_url=url).with_changes(**changes)


def owner(run_id: str = "run") -> LeaseOwner:
    return LeaseOwner(host="testhost", pid=os.getpid(), process_start=time.time(), run_id=run_id)


def links(parent: int | None, depth: int, names: list[str]) -> list[DiscoveredLink]:
    return [DiscoveredLink(f"{SITE}/{name}", depth, parent) for name in names]


def done(page_id: int, url: str, found: list[DiscoveredLink] | None = None) -> PageResult:
    return PageResult(
        page_id=page_id,
        url=url,
        status=PageStatus.DONE,
        attempts=1,
        http_status=200,
        title="t",
        fetched_at=1000.0 + page_id,
        size=10,
        links=found or [],
    )


async def running_session(store: ContractStore) -> str:
    record = await store.create_session(config(), who="contract")
    await store.transition(record.id, Status.RUNNING, reason="go", who="contract")
    return record.id
