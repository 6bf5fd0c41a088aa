"""The raw aiohttp baseline: asyncio + aiohttp + selectolax, in-memory seen set, no persistence.

The same crawler as baseline_httpx.py (same canonicalisation, redirects followed by hand with
the target recorded as seen, selectolax link extraction, each page fetched exactly once) on
`aiohttp.ClientSession` directly: the fastest in-memory Python crawler here, and so the aim
for a crawler that also persists everything.

    python benchmarks/baseline_aiohttp.py URL [--concurrency 16] [--uvloop]

`--uvloop` runs it on uvloop's event loop (exit 2 if uvloop is not installed).
Prints one JSON line: {"pages": ..., "redirects": ..., "errors": ..., "bytes": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from canon import canonical  # same folder: the one canonicalisation of both baselines
from selectolax.lexbor import LexborHTMLParser

REDIRECTS = (301, 302, 303, 307, 308)


async def crawl(start: str, concurrency: int) -> dict[str, int]:
    start = canonical(start)
    origin = urlsplit(start)[:2]
    seen = {start}
    queue: asyncio.Queue[str] = asyncio.Queue()
    queue.put_nowait(start)
    counts = {"pages": 0, "redirects": 0, "errors": 0, "bytes": 0}

    def discover(url: str) -> bool:
        if url in seen or urlsplit(url)[:2] != origin:
            return False
        seen.add(url)
        return True

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def fetch(url: str) -> None:
            for _ in range(10):
                # allow_redirects=False: each hop is ours to record, as in the httpx baseline.
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in REDIRECTS:
                        counts["redirects"] += 1
                        target = canonical(urljoin(url, response.headers["location"]))
                        if not discover(target):
                            return  # already queued or fetched under its own name
                        url = target
                        continue
                    if response.status != 200:
                        counts["errors"] += 1
                        return
                    body = await response.read()
                    content_type = response.headers.get("content-type", "")
                break
            else:
                counts["errors"] += 1
                return
            counts["pages"] += 1
            counts["bytes"] += len(body)
            if not content_type.startswith("text/html"):
                return
            for node in LexborHTMLParser(body).css("a[href]"):
                href = node.attributes.get("href")
                if href:
                    link = canonical(urljoin(url, href))
                    if discover(link):
                        queue.put_nowait(link)

        async def worker() -> None:
            while True:
                url = await queue.get()
                try:
                    await fetch(url)
                except (TimeoutError, aiohttp.ClientError):
                    counts["errors"] += 1
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await queue.join()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return counts


def runner(use_uvloop: bool) -> Callable[[Coroutine[Any, Any, dict[str, int]]], dict[str, int]]:
    if not use_uvloop:
        return asyncio.run
    try:
        import uvloop
    except ImportError:
        print("baseline_aiohttp: --uvloop: uvloop is not installed", file=sys.stderr)
        raise SystemExit(2) from None
    return uvloop.run


def main() -> None:
    parser = argparse.ArgumentParser(description="raw asyncio + aiohttp + selectolax crawler")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    args = parser.parse_args()
    counts = runner(args.uvloop)(crawl(args.url, args.concurrency))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
