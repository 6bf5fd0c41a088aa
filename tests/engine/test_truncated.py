"""A page cut at the parse limit is stored `done` with a marker the export shows (real CLI)."""

from __future__ import annotations

import json
from pathlib import Path

from tui_scraper.engine.parse import DEFAULT_MAX_PARSE_BYTES, TRUNCATED_FIELD

from .conftest import cli
from .invariants import page_states, session_status
from .site import SiteServer, page_html


def test_page_cut_at_parse_limit_is_marked_in_export(tmp_path: Path) -> None:
    filler = "<p>" + "x" * (DEFAULT_MAX_PARSE_BYTES + 1024) + "</p>"
    big = page_html("Big", ["/after.html"]).replace("<body>", "<body>" + filler)
    pages = {
        "/": page_html("Home", ["/big.html", "/small.html"]),
        "/big.html": big,
        "/small.html": page_html("Small", []),
        "/after.html": page_html("After", []),
    }
    server = SiteServer(pages).start()
    try:
        data = tmp_path / "d"
        result = cli(data, "crawl", server.base + "/", "--headless")
        assert result.returncode == 0, result.stderr
        states = page_states(data)
        assert states[server.base + "/big.html"] == "done"
        # The link after the cut was never seen: exactly what the marker warns about.
        assert server.base + "/after.html" not in states
        session_id = session_status(data)[0][0]
        out = tmp_path / "pages.jsonl"
        exported = cli(data, "export", session_id, "-o", str(out))
        assert exported.returncode == 0, exported.stderr
        rows = {row["url"]: row for row in map(json.loads, out.read_text().splitlines())}
        marker = rows[server.base + "/big.html"]["extracted"][TRUNCATED_FIELD]
        assert marker == {"parsed_bytes": DEFAULT_MAX_PARSE_BYTES, "size": len(big.encode())}
        assert TRUNCATED_FIELD not in (rows[server.base + "/small.html"]["extracted"] or {})
    finally:
        server.stop()
