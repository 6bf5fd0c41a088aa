"""Run in a fresh subprocess: fetch one URL and report the growth of peak RSS.

Peak RSS is a high-water mark, so each case needs its own process. And on
Linux ru_maxrss survives fork+exec: a child of a big pytest process starts with the parent's peak
and would report zero growth. VmHWM in /proc/self/status belongs to the new address space only.
Usage: python rss_probe.py WARMUP_URL URL CAP_BYTES aiohttp|httpx
Prints one JSON object: {"kind": ..., "growth_kib": ..., "status": ...}.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

import httpx

from tui_scraper.engine.fetch import Fetcher, FetchError


def _maxrss_kib() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


async def main(warmup: str, url: str, cap: int, transport_name: str) -> dict[str, object]:
    transport = None
    if transport_name == "httpx":
        transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=2))
    fetcher = Fetcher(
        concurrency=2,
        user_agent="rss-probe/1",
        request_timeout=30,
        max_body_bytes=cap,
        allow_private=True,
        transport=transport,
    )
    try:
        # Warm up: import-time and first-connection allocations must not count as growth.
        await fetcher.fetch(warmup, url_check=lambda _u: None, want_body=lambda _c: True)
        before = _maxrss_kib()
        result: dict[str, object] = {"kind": None, "status": None}
        try:
            resp = await fetcher.fetch(url, url_check=lambda _u: None, want_body=lambda _c: True)
            result["status"] = resp.status_code
            result["body_len"] = len(resp.body or b"")
        except FetchError as exc:
            result["kind"] = exc.kind
        result["growth_kib"] = _maxrss_kib() - before
        return result
    finally:
        await fetcher.aclose()


if __name__ == "__main__":
    out = asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    print(json.dumps(out))
