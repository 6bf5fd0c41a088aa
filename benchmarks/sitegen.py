"""Generate the deterministic static benchmark site (and its manifest of expected pages).

Shape, for `pages` = N (N is exactly the number of canonical pages a correct crawl fetches):
- `/index.html` links every section index; sections `/sNN/` each hold a nested `/sNN/deep/`
  index and leaf pages `pNNNNN.html` of 10–60 KB, ~25 links each: nav, parent,
  next-in-section (so everything is reachable), and random links (mostly same section,
  some with `#fragments`, same-directory ones written relative).
- A few links to `/sNN` without the slash: the server answers 301 → `/sNN/` (the page
  itself is also linked directly), so a crawler must record redirect targets as seen.
- `/lists/page.html?n=K&sort=asc` for K = 1..10, each linked in both query orders: ten
  canonical pages (query sorted) served from one file.

Everything comes from `random.Random(seed)`; the bytes depend only on (pages, seed).
`generate()` skips the work when the stamp file says the same site is already there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

GENERATOR_VERSION = 3  # bump when the output changes, so cached sites are regenerated
LIST_PAGES = 10
LINKS_PER_PAGE = 25

_VOCABULARY = (
    "crawler frontier latency request response session resume archive index sitemap "
    "canonical redirect fragment parameter throughput benchmark storage journal commit "
    "checkpoint worker socket buffer header cookie encoding parser selector extract "
    "history durable exact market river garden window mountain letter summer engine "
    "history office planet silver orange circle motion signal theory village winter"
)
_WORDS = _VOCABULARY.split()


@dataclass(frozen=True)
class SiteInfo:
    root: Path
    pages: list[str]  # canonical root-relative URLs (path + sorted query), sorted
    redirect_sources: list[str]  # paths answered with 301 (to the same path + "/")
    total_bytes: int
    digest: str  # sha256 over every file's path and bytes


def _paragraph_pool(rng: random.Random, count: int = 400) -> list[str]:
    # Page text is drawn from a pool of paragraphs: choosing words one by one for
    # ~175 MB of HTML would take tens of seconds; this takes well under one.
    pool = []
    for _ in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(40, 140))]
        pool.append("<p>" + " ".join(words).capitalize() + ".</p>\n")
    return pool


def _layout(pages: int) -> tuple[int, list[tuple[str, list[str]]]]:
    sections = max(2, pages // 250)
    fixed = 1 + 2 * sections + LIST_PAGES  # root, section + deep indexes, list pages
    leaves = pages - fixed
    if leaves < sections * 2:
        raise ValueError(f"--pages must be at least {fixed + sections * 2}")
    groups: list[tuple[str, list[str]]] = []
    number = 0
    for s in range(sections):
        count = leaves // sections + (1 if s < leaves % sections else 0)
        shallow = count // 2
        for directory, n in ((f"/s{s:02d}/", shallow), (f"/s{s:02d}/deep/", count - shallow)):
            names = []
            for _ in range(n):
                names.append(f"{directory}p{number:05d}.html")
                number += 1
            groups.append((directory, names))
    return sections, groups


def _href(from_dir: str, target: str) -> str:
    # Same-directory links are written relative (as real sites do), others root-relative.
    if target.startswith(from_dir) and "/" not in target[len(from_dir) :]:
        return target[len(from_dir) :]
    return target


def build(pages: int, seed: int) -> tuple[dict[str, bytes], list[str], list[str]]:
    """Return ({file path: bytes}, canonical page URLs, redirect source paths)."""
    rng = random.Random(seed)
    pool = _paragraph_pool(rng)
    sections, groups = _layout(pages)
    section_index = [f"/s{s:02d}/" for s in range(sections)]
    leaves = [name for _, names in groups for name in names]
    by_section: dict[int, list[str]] = {}
    for name in leaves:
        by_section.setdefault(int(name[2:4]), []).append(name)
    list_urls = [f"/lists/page.html?n={k}&sort=asc" for k in range(1, LIST_PAGES + 1)]
    redirect_sources = [f"/s{s:02d}" for s in range(min(3, sections))]

    files: dict[str, bytes] = {}

    def page(path: str, title: str, links: list[str], size: int) -> bytes:
        directory = path.rsplit("/", 1)[0] + "/"
        items = "".join(
            f'<li><a href="{_href(directory, h)}">Link to {h.rsplit("/", 1)[-1] or h}</a></li>\n'
            for h in links
        )
        head = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n<ul>\n{items}</ul>\n"
        )
        body = [head]
        length = len(head)
        while length < size:
            chunk = rng.choice(pool)
            body.append(chunk)
            length += len(chunk)
        body.append("</body></html>\n")
        return "".join(body).encode()

    def random_links(section: int, count: int) -> list[str]:
        out = []
        for _ in range(count):
            pool_ = by_section[section] if rng.random() < 0.6 else leaves
            target = rng.choice(pool_)
            if rng.random() < 0.1:
                target += f"#sec{rng.randint(1, 9)}"
            out.append(target)
        return out

    def variant(url: str) -> str:
        # Same list page with its query parameters in the other order.
        path, _, query = url.partition("?")
        return path + "?" + "&".join(reversed(query.split("&")))

    root_links = [*section_index, *redirect_sources, list_urls[0], variant(list_urls[0])]
    files["/index.html"] = page("/index.html", "Benchmark site", root_links, 12_000)
    for s in range(sections):
        deep = f"/s{s:02d}/deep/"
        shallow_names = groups[2 * s][1]
        deep_names = groups[2 * s + 1][1]
        links = ["/", deep, shallow_names[0], *random_links(s, 20)]
        files[f"/s{s:02d}/index.html"] = page(f"/s{s:02d}/", f"Section {s}", links, 15_000)
        links = ["/", f"/s{s:02d}/", deep_names[0], *random_links(s, 20)]
        files[f"{deep}index.html"] = page(deep, f"Section {s}, deeper", links, 15_000)
        for names in (shallow_names, deep_names):
            for i, name in enumerate(names):
                parent = name.rsplit("/", 1)[0] + "/"
                nav = ["/", f"/s{s:02d}/", section_index[(s + 1) % sections], parent]
                if i + 1 < len(names):
                    nav.append(names[i + 1])
                links = nav + random_links(s, LINKS_PER_PAGE - len(nav))
                roll = rng.random()
                if roll < 0.02:
                    links.append(rng.choice(redirect_sources))
                elif roll < 0.06:
                    target = rng.choice(list_urls)
                    links.append(target if rng.random() < 0.5 else variant(target))
                title = f"{rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS)} {i}"
                files[name] = page(name, title, links, rng.randint(10_000, 60_000))
    # Each list page links the next one (in a random query order) and into the site.
    list_links = [*random_links(0, 10), *(variant(u) for u in list_urls)]
    files["/lists/page.html"] = page("/lists/page.html", "Listing", list_links, 10_000)

    canonical = [p[: -len("index.html")] if p.endswith("/index.html") else p for p in files]
    canonical.remove("/lists/page.html")  # only ever linked with a query
    canonical += list_urls  # already in sorted-query form: n < sort
    assert len(canonical) == pages, (len(canonical), pages)
    return files, sorted(canonical), redirect_sources


def generate(out_dir: Path, pages: int, seed: int = 1) -> SiteInfo:
    """Write the site into out_dir (replacing a different one); reuse an identical one."""
    stamp = out_dir / ".stamp.json"
    key = {"pages": pages, "seed": seed, "version": GENERATOR_VERSION}
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("key") == key:
            return SiteInfo(
                out_dir, saved["pages"], saved["redirects"], saved["bytes"], saved["digest"]
            )
    files, canonical, redirects = build(pages, seed)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    digest = hashlib.sha256()
    total = 0
    for path in sorted(files):
        data = files[path]
        target = out_dir / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, 0o644)  # nginx workers run as an unprivileged user
        digest.update(path.encode() + b"\0" + data)
        total += len(data)
    info = SiteInfo(out_dir, canonical, redirects, total, digest.hexdigest())
    stamp.write_text(
        json.dumps(
            {
                "key": key,
                "pages": canonical,
                "redirects": redirects,
                "bytes": total,
                "digest": info.digest,
            }
        )
    )
    return info


def tree_digest(root: Path) -> str:
    """sha256 over every file under root (path and bytes), stamp excluded."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".stamp.json"):
        digest.update(("/" + path.relative_to(root).as_posix()).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    info = generate(args.out, args.pages, args.seed)
    print(f"{len(info.pages)} pages, {info.total_bytes / 1e6:.1f} MB, sha256 {info.digest[:16]}")


if __name__ == "__main__":
    main()
