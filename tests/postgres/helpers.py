"""Small helpers for the PostgreSQL-only tests."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from tui_scraper.domain import CrawlConfig, LeaseOwner

SITE = "http://127.0.0.1:9"


def config(url: str = f"{SITE}/") -> CrawlConfig:
    return CrawlConfig(target_url=url)


def owner(run_id: str = "run") -> LeaseOwner:
    return LeaseOwner(host="testhost", pid=os.getpid(), process_start=time.time(), run_id=run_id)


def sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


async def until(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or check}")
        await asyncio.sleep(0.05)
