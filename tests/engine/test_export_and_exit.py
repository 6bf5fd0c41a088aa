"""Export streams every stored page; every CLI path exits cleanly (T10)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .conftest import cli
from .invariants import page_states, session_status
from .site import SiteServer, generated_site


def test_export_jsonl_and_csv_match_the_store(tmp_path: Path) -> None:
    server = SiteServer(generated_site(30)).start()
    try:
        data = tmp_path / "d"
        crawled = cli(
            data,
            "crawl",
            server.base + "/",
            "--headless",
            "--extract",
            "heading=h1",
            "--extract",
            "hrefs=a@href",
        )
        assert crawled.returncode == 0, crawled.stderr
        session_id = session_status(data)[0][0]
        out = tmp_path / "pages.jsonl"
        exported = cli(data, "export", session_id[:6], "--format", "jsonl", "-o", str(out))
        assert exported.returncode == 0, exported.stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert {r["url"] for r in records} == set(page_states(data))
        home = next(r for r in records if r["url"] == server.base + "/")
        assert home["title"] == "Page 0"
        assert home["extracted"]["heading"] == ["Page 0"]
        assert "/p/1.html" in home["extracted"]["hrefs"]
        csv_out = tmp_path / "pages.csv"
        exported = cli(data, "export", session_id, "--format", "csv", "-o", str(csv_out))
        assert exported.returncode == 0, exported.stderr
        with csv_out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == len(records)
        stdout = cli(data, "export", session_id)
        assert len(stdout.stdout.splitlines()) == len(records)
    finally:
        server.stop()


def test_every_exit_path_terminates_without_traceback(tmp_path: Path) -> None:
    data = tmp_path / "d"
    cases: list[tuple[tuple[str, ...], int]] = [
        (("--help",), 0),
        (("crawl", "--help"), 0),
        (("sessions",), 0),
        (
            ("crawl", "http://127.0.0.1:9/", "--headless", "--retries", "0", "--timeout", "2"),
            1,
        ),  # unreachable: the start page fails, so the session fails (exit 1), no traceback
        (("crawl", "http://[::1", "--headless"), 2),
        (("crawl", "http://127.0.0.1:9/", "--headless", "--rate", "1e-300"), 2),
        (("resume", "0000"), 2),  # unknown id, no --headless: one line, the app never opens
        (("export", "0000", "-o", "out.jsonl"), 2),
        (("show", "zz"), 2),
    ]
    for args, code in cases:
        result = cli(data, *args, timeout=60)
        assert result.returncode == code, (args, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert "Event loop is closed" not in result.stderr
        assert "ResourceWarning" not in result.stderr
    states = page_states(data)
    assert states == {"http://127.0.0.1:9/": "failed"}
