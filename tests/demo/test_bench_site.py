"""The benchmark site generator (benchmarks/sitegen.py) is deterministic and self-consistent."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import sitegen  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def test_same_site_twice(tmp_path: Path) -> None:
    a = sitegen.generate(tmp_path / "a", 200, seed=7)
    b = sitegen.generate(tmp_path / "b", 200, seed=7)
    assert a.digest == b.digest == sitegen.tree_digest(tmp_path / "a")
    assert sitegen.tree_digest(tmp_path / "a") == sitegen.tree_digest(tmp_path / "b")
    assert a.pages == b.pages and len(a.pages) == 200
    other = sitegen.generate(tmp_path / "c", 200, seed=8)
    assert other.digest != a.digest


def test_manifest_matches_links(tmp_path: Path) -> None:
    """A BFS over the files (with nginx's /d -> /d/ rule) reaches exactly the manifest."""
    info = sitegen.generate(tmp_path / "site", 300, seed=3)
    root = info.root
    base = "http://bench/"

    def canon(url: str) -> str:
        parts = urlsplit(url)
        query = urlencode(sorted(parse_qsl(parts.query))) if parts.query else ""
        return parts.path + (f"?{query}" if query else "")

    def file_for(path: str) -> Path | None:
        target = root / path.lstrip("/")
        if path.endswith("/"):
            target = target / "index.html"
        elif target.is_dir():
            return None  # nginx answers 301 -> path + "/"
        return target if target.is_file() else None

    seen = {"/"}
    queue = ["/"]
    pages: set[str] = set()
    sizes = []
    links_per_page = []
    redirects = set()
    while queue:
        url = queue.pop()
        assert len(seen) < 1000, "the BFS runs away"
        path = url.split("?", 1)[0]
        target = file_for(path)
        if target is None:
            assert (root / path.lstrip("/")).is_dir(), f"broken link {url}"
            redirects.add(path)
            new = path + "/"
            if new not in seen:
                seen.add(new)
                queue.append(new)
            continue
        pages.add(url)
        data = target.read_bytes()
        sizes.append(len(data))
        hrefs = [n.attributes["href"] for n in LexborHTMLParser(data).css("a[href]")]
        links_per_page.append(len(hrefs))
        for href in hrefs:
            assert href is not None
            link = canon(urljoin(base + url.lstrip("/"), href))
            if link not in seen:
                seen.add(link)
                queue.append(link)
    assert pages == set(info.pages)
    assert redirects == set(info.redirect_sources)
    assert min(sizes) >= 10_000 and max(sizes) <= 62_000
    assert 20 <= sum(links_per_page) / len(links_per_page) <= 30


def test_baseline_crawls_the_fallback_server_exactly(tmp_path: Path) -> None:
    """The raw baseline fetches each page once through the fallback server (and its log)."""
    import json
    import subprocess

    info = sitegen.generate(tmp_path / "site", 200, seed=5)
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "static_server.py"), str(info.root), str(log)],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}/"
        for transport in ("default", "aiohttp"):
            log.write_text("")
            out = subprocess.run(
                [
                    sys.executable,
                    str(BENCHMARKS / "baseline_httpx.py"),
                    url,
                    "--transport",
                    transport,
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            counts = json.loads(out.stdout)
            assert counts["pages"] == 200 and counts["errors"] == 0
            lines = [line.split(" ", 2) for line in log.read_text().splitlines()]
            ok = [uri.strip('"') for _, status, uri in lines if status == "200"]
            hops = [uri.strip('"') for _, status, uri in lines if status == "301"]
            assert len(ok) == len(set(ok)) == 200
            assert sorted(hops) == info.redirect_sources
    finally:
        server.terminate()
        server.wait(10)
