"""The raw baseline crawler: asyncio + httpx + selectolax, in-memory seen set, no persistence.

It is the yardstick (= 1.00): the least a Python crawler on this stack
must do per page, and nothing more. Same canonicalisation as tui-scraper (fragment
dropped, query parameters sorted, scheme/host lower-case) and redirects followed by hand
with the target recorded as seen, so it fetches each page exactly once.

    python benchmarks/baseline_httpx.py URL [--concurrency 16] [--transport default|aiohttp]

Prints one JSON line: {"pages": ..., "redirects": ..., "errors": ..., "bytes": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import urljoin, urlsplit

import httpx
from canon import canonical  # same folder: the one canonicalisation of both baselines
from selectolax.lexbor import LexborHTMLParser


async def crawl(start: str, concurrency: int, transport_name: str) -> dict[str, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport: httpx.AsyncBaseTransport
    if transport_name == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=limits)
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits)
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

    async with httpx.AsyncClient(transport=transport, timeout=30.0) as client:

        async def fetch(url: str) -> None:
            for _ in range(10):
                response = await client.get(url)
                if response.is_redirect:
                    counts["redirects"] += 1
                    target = canonical(urljoin(url, response.headers["location"]))
                    if not discover(target):
                        return  # already queued or fetched under its own name
                    url = target
                    continue
                break
            else:
                counts["errors"] += 1
                return
            if response.status_code != 200:
                counts["errors"] += 1
                return
            counts["pages"] += 1
            body = response.content
            counts["bytes"] += len(body)
            if not response.headers.get("content-type", "").startswith("text/html"):
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
                except httpx.HTTPError:
                    counts["errors"] += 1
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await queue.join()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description="raw asyncio + httpx + selectolax crawler")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--transport", choices=("default", "aiohttp"), default="default")
    args = parser.parse_args()
    if "sniffio" not in sys.modules:
        # Without sniffio installed, httpcore is ~2x slower; say so loudly
        # rather than publish a baseline that flatters everyone measured against it.
        try:
            import sniffio  # noqa: F401
        except ImportError:
            print("warning: sniffio is not installed; httpx runs ~2x slower", file=sys.stderr)
    counts = asyncio.run(crawl(args.url, args.concurrency, args.transport))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
