"""The live WARC of a session crawled with `--warc FILE` (warc_live.py), around each crawl run:
opened (or reopened and repaired after a kill), caught up with what was committed but not yet
written, told every committed batch while the crawl runs, and closed with its last records."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ..engine.crawler import Crawler
from ..ports import RuntimeStore
from ..warc_live import CONFIG_KEY, LiveWarc
from ..warc_revisits import RevisitReferences


@contextlib.asynccontextmanager
async def live_warc(
    store: RuntimeStore, session_id: str, crawler: Crawler, *, joined: bool
) -> AsyncIterator[None]:
    target = crawler.config.extra.get(CONFIG_KEY)
    if not target or joined:  # a joined worker's pages are written by the session's owner
        yield
        return
    session = await store.get_session(session_id)
    # A recrawl's revisits name the earlier capture, as in an export (warc_revisits.py).
    references = RevisitReferences(store, session) if session.config.recrawl_of else None
    warc = LiveWarc(Path(str(target)), session, store.blobs, references)
    await asyncio.to_thread(warc.open)
    try:
        await warc.catch_up(store.iter_pages(session_id))
        warc.start()
        crawler.on_commit = warc.committed
        try:
            yield
        finally:
            crawler.on_commit = None
    finally:
        await warc.close()
