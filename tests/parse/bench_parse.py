"""Micro benchmark (not a test): canonicalize µs/call and page processing µs/page.

    /work/venv/bin/python tests/parse/bench_parse.py [--pages N]

The machine is shared and noisy: compare the numbers of one run with each other (ratios), and take
the best of several repeats for the micro benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import random
import time
import timeit
from urllib.parse import urljoin

from tui_scraper.engine.parse import PageJob, process_page
from tui_scraper.engine.parse_pool import ParsePool
from tui_scraper.engine.urls import Scope, canonicalize

URL_CASES = [
    ("/p/12.html", "http://127.0.0.1:8000/dir/index.html"),
    ("page-12.html", "http://127.0.0.1:8000/dir/index.html"),
    ("../x/y.html", "http://127.0.0.1:8000/dir/sub/index.html"),
    ("/search?b=2&a=1#frag", "http://127.0.0.1:8000/"),
    ("http://127.0.0.1:8000/abs/path", "http://127.0.0.1:8000/"),
    ("https://Example.org/A/%7e/../b?utm_source=x&q=%zz", "http://127.0.0.1:8000/"),
    ("mailto:someone@example.org", "http://127.0.0.1:8000/"),
]


def bench_urls() -> None:
    print("canonicalize(url, base)                                  µs/call   urljoin µs/call")
    for url, base in URL_CASES:
        ns = {"c": canonicalize, "j": urljoin, "u": url, "b": base}
        ours = min(timeit.repeat("c(u, b)", globals=ns, number=20_000, repeat=7)) / 20_000
        theirs = min(timeit.repeat("j(b, u)", globals=ns, number=20_000, repeat=7)) / 20_000
        print(f"  {url[:52]:54} {ours * 1e6:7.2f}   {theirs * 1e6:7.2f}")
    scope = Scope.build("http://127.0.0.1:8000/")
    ns = {"s": scope, "u": "http://127.0.0.1:8000/p/12.html?a=1&b=2"}
    check = min(timeit.repeat("s.check(u, 3)", globals=ns, number=20_000, repeat=7)) / 20_000
    print(f"  Scope.check: {check * 1e6:.2f} µs/call")


def make_page(rng: random.Random, index: int) -> bytes:
    """~36 KB of ordinary HTML with ~25 links, like the benchmark site (benchmarks/sitegen.py)."""
    links = "".join(
        f'<li><a href="/section-{rng.randrange(50)}/page-{rng.randrange(3000)}.html">'
        f"link {i}</a></li>"
        for i in range(25)
    )
    words = " ".join(
        rng.choice(["lorem", "ipsum", "dolor", "sit", "amet", "crawler"]) for _ in range(8)
    )
    paragraphs = "".join(f"<p class='c{i % 7}'>{words} {words} {words}</p>" for i in range(180))
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Page {index}</title>"
        f"<meta name=description content='page {index}'><link rel=canonical href='/p{index}'>"
        f"<style>body{{margin:0}}</style></head><body><h1>Page {index}</h1><nav><ul>{links}"
        f"</ul></nav><main>{paragraphs}</main><script>var x = {index};</script></body></html>"
    ).encode()


async def through_pool(jobs: list[PageJob], callers: int) -> tuple[float, float]:
    """(wall µs/page, CPU µs/page) through the in-thread parse of `parse_workers=0` (fetch
    workers parse on their own loop, as the in-process column does)."""
    pool = ParsePool(workers=0, deadline=30)
    await asyncio.gather(*(pool.process(j) for j in jobs[:callers]))  # warm up
    queue = list(jobs)

    async def caller() -> None:
        while queue:
            await pool.process(queue.pop())

    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    await pool.aclose()
    return elapsed / len(jobs) * 1e6, cpu / len(jobs) * 1e6


def bench_pages(count: int) -> None:
    rng = random.Random(7)
    scope = Scope.build("http://127.0.0.1:8000/")
    bodies = [make_page(rng, i) for i in range(count)]
    jobs = [
        PageJob(
            url=f"http://127.0.0.1:8000/section-1/page-{i}.html",
            depth=1,
            body=body,
            charset=None,
            is_html=True,
            rules=(),
            scope=scope,
        )
        for i, body in enumerate(bodies)
    ]
    size = sum(len(b) for b in bodies) / len(bodies)
    result = process_page(jobs[0])
    print(
        f"\npages: {count}, {size / 1024:.1f} KB each, {len(result.links)} links,"
        f" fields {result.fields}"
    )
    pickled = pickle.dumps(jobs[0], protocol=pickle.HIGHEST_PROTOCOL)
    unpickle = min(timeit.repeat(lambda: pickle.loads(pickled), number=2000, repeat=5)) / 2000
    dumps = (
        min(timeit.repeat(lambda: pickle.dumps(jobs[0], protocol=5), number=2000, repeat=5)) / 2000
    )
    reply = pickle.dumps(result, protocol=5)
    print(
        f"IPC per page: job {len(pickled)} B (dumps {dumps * 1e6:.1f} µs,"
        f" loads {unpickle * 1e6:.1f} µs), reply {len(reply)} B"
    )
    for round_ in range(2):
        started = time.perf_counter()
        for job in jobs:
            process_page(job)
        inproc = (time.perf_counter() - started) / count * 1e6
        row = [f"round {round_}: in-process {inproc:6.0f} µs/page"]
        wall, cpu = asyncio.run(through_pool(jobs, 16))
        row.append(f"thread: {wall:5.0f} wall, {cpu:5.0f} CPU")
        print(" | ".join(row), "(µs/page, 16 concurrent callers)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1500)
    args = parser.parse_args()
    bench_urls()
    bench_pages(args.pages)


if __name__ == "__main__":
    main()
