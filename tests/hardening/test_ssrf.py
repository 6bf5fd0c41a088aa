"""T15 end to end: links to the cloud metadata address in any spelling are never requested.

They would fail to connect here anyway, so the proof is the reason: each is `skipped` with
`address_refused` (decided before any connection), never `failed` with a connect error.
"""

from __future__ import annotations

from pathlib import Path

from engine.invariants import assert_store_invariants
from engine.site import SiteServer, page_html

from tui_scraper.engine.urls import canonicalize

from .conftest import assert_clean_stderr, cli, pages

METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://2852039166/",
    "http://0xA9.0xFE.0xA9.0xFE/x",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
]


def test_metadata_addresses_never_requested(tmp_path: Path) -> None:
    site = {"/": page_html("Seed", [*METADATA, "/ok.html"]), "/ok.html": page_html("Ok", [])}
    server = SiteServer(site).start()
    data = tmp_path / "d"
    try:
        # --scope any and --allow-private: only the address policy stands between the links
        # and a request, and link-local/unspecified addresses are refused whatever the flags.
        result = cli(
            data,
            "crawl",
            server.base + "/",
            "--headless",
            "--scope",
            "any",
            "--allow-private",
            "--retries",
            "0",
            "--timeout",
            "5",
        )
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        rows = pages(data)
        assert rows[server.base + "/ok.html"][0] == "done"
        for link in METADATA:
            url = canonicalize(link)
            if url is None:
                continue  # refused before it became a URL at all: never requested either
            status, error = rows[url]
            assert status == "skipped", (link, status, error)
            assert error is not None and error["kind"] == "address_refused", (link, error)
        assert_store_invariants(data)
    finally:
        server.stop()
