"""Page processing micro benchmark: `process_page` (without the blob write) over the benchmark site.

    python benchmarks/bench_parse.py [--pages 2000] [--repeat 5] [--rules] [--site DIR]

Generates the site with sitegen (or reuses DIR), builds each page's `PageJob` as the crawler does
(final URL, depth, the body, no HTTP charset: the static server sends none) and prints µs per
page: the whole of `process_page(job)`, then the same work split into its stages (decode, parse,
links, built-in fields, user rules). Each figure is the least CPU time of `--repeat` passes over
all pages, one process, one core: compare the figures of one run with each other.

`--rules` adds typical user rules (`h1=h1`, `items=li`, `hrefs=a@href`); a default crawl has none.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sitegen
from selectolax.lexbor import LexborHTMLParser

from tui_scraper.domain import ExtractRule
from tui_scraper.engine.decode import parser_input
from tui_scraper.engine.extract import extract
from tui_scraper.engine.parse import PageJob, find_links, page_fields, process_page
from tui_scraper.engine.urls import Scope

ORIGIN = "http://127.0.0.1:8000"
RULES = (
    ExtractRule("heading", "h1"),
    ExtractRule("items", "li"),
    ExtractRule("hrefs", "a", "href"),
)


def load_jobs(site: Path, pages: int, rules: tuple[ExtractRule, ...]) -> list[PageJob]:
    sitegen.generate(site, pages)
    scope = Scope.build(ORIGIN + "/")
    jobs = []
    for path in sorted(site.rglob("*.html")):
        relative = "/" + path.relative_to(site).as_posix()
        url = ORIGIN + (relative.removesuffix("index.html"))
        jobs.append(
            PageJob(
                url=url,
                depth=relative.count("/") - 1,
                body=path.read_bytes(),
                charset=None,
                is_html=True,
                rules=rules,
                scope=scope,
                blob_sync=False,
            )
        )
    return jobs


def best_pass(items: list[Any], work: Callable[[Any], object], repeat: int) -> float:
    """Least CPU time of `repeat` passes of `work` over `items`, in µs per item: CPU time, not
    wall time, so that other processes on a shared machine do not count."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for item in items:
            work(item)
        best = min(best, time.process_time() - started)
    return best / len(items) * 1e6


def run(jobs: list[PageJob], repeat: int) -> None:
    total = best_pass(jobs, process_page, repeat)
    texts = [parser_input(job.body, job.charset)[0] for job in jobs]
    trees = [LexborHTMLParser(text) for text in texts]
    found = [find_links(tree, job) for tree, job in zip(trees, jobs, strict=True)]
    pairs = list(zip(trees, jobs, strict=True))
    stages = {
        "decode": best_pass(jobs, lambda job: parser_input(job.body, job.charset), repeat),
        "parse": best_pass(texts, LexborHTMLParser, repeat),
        "links": best_pass(pairs, lambda pair: find_links(*pair), repeat),
        "default fields": best_pass(
            list(zip(trees, found, strict=True)),
            lambda pair: page_fields(pair[0], pair[1].base, pair[1].distinct),
            repeat,
        ),
        "user rules": best_pass(pairs, lambda pair: extract(pair[0], pair[1].rules), repeat),
    }
    size = sum(len(job.body) for job in jobs) / len(jobs)
    links = sum(len(f.links) for f in found) / len(found)
    print(f"{len(jobs)} pages, {size / 1024:.1f} KB and {links:.1f} links per page on average")
    print(f"  process_page (blobs=None) {total:8.1f} µs/page")
    for name, micros in stages.items():
        print(f"    {name:22} {micros:8.1f} µs/page")
    print(f"    {'sum of the stages':22} {sum(stages.values()):8.1f} µs/page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rules", action="store_true", help="add typical user extraction rules")
    parser.add_argument("--site", type=Path, help="site directory (generated if missing)")
    args = parser.parse_args()
    rules = RULES if args.rules else ()
    if args.site is not None:
        run(load_jobs(args.site, args.pages, rules), args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        run(load_jobs(Path(tmp), args.pages, rules), args.repeat)


if __name__ == "__main__":
    main()
