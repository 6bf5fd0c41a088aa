"""Crawlee (Python) peer for benchmarks/run.py: in-memory storage, same-hostname links.

    python benchmarks/peers/crawlee_crawler.py URL CONCURRENCY

Used only when Crawlee is installed; the runner never installs it.
"""

from __future__ import annotations

import asyncio
import os
import sys


async def main(url: str, concurrency: int) -> None:
    # In-memory storage: the file-system default measured 2.8x slower.
    os.environ.setdefault("CRAWLEE_PERSIST_STORAGE", "false")
    from crawlee import ConcurrencySettings  # type: ignore[import-not-found]
    from crawlee.crawlers import (  # type: ignore[import-not-found]
        BeautifulSoupCrawler,
        BeautifulSoupCrawlingContext,
    )

    crawler = BeautifulSoupCrawler(
        concurrency_settings=ConcurrencySettings(
            max_concurrency=concurrency, desired_concurrency=concurrency
        ),
        max_requests_per_crawl=None,
    )

    @crawler.router.default_handler  # type: ignore[misc]
    async def handler(context: BeautifulSoupCrawlingContext) -> None:
        await context.enqueue_links(strategy="same-hostname")

    await crawler.run([url])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
