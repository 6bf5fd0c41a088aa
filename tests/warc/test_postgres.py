"""On PostgreSQL: a crawl keeps the heads, `--warc` writes the live file (content read back from
the database), and `export --format warc` writes the same records."""

from __future__ import annotations

import collections
from pathlib import Path

from engine.site import SiteServer, generated_site
from warcio.archiveiterator import ArchiveIterator

from tests.cli_store.helpers import run

PAGES = 60


def _responses(path: Path) -> collections.Counter[str]:
    with path.open("rb") as fh:
        return collections.Counter(
            r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(fh)
            if r.rec_type == "response"
        )


def test_live_and_exported_warc_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    server = SiteServer(generated_site(PAGES)).start()
    live = tmp_path / "live.warc.gz"
    data = tmp_path / "d"
    try:
        crawl = run(
            "--db", pg_url, "--data-dir", str(data), "crawl", server.base + "/", "--headless",
            "--warc", str(live),
        )  # fmt: skip
        assert crawl.returncode == 0, crawl.stderr
    finally:
        server.stop()
    session_id = crawl.stdout.strip()
    exported = tmp_path / "export.warc.gz"
    result = run(
        "--db", pg_url, "--data-dir", str(data), "export", session_id, "--format", "warc",
        "-o", str(exported),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = {server.base + "/"} | {f"{server.base}/p/{i}.html" for i in range(1, PAGES)}
    assert _responses(live) == collections.Counter(expected)
    assert _responses(exported) == collections.Counter(expected)
