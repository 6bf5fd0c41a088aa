"""T63, T64 end to end through the real CLI: extraction rules never collide with the built-in
fields, and `--download` follows resource links (`<img>`, `<link>`, `<script>`, `<source>`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import assert_clean_stderr, cli


@pytest.mark.parametrize("spec", ["title=h1", "h1=h2", "outlinks=a@href"])
def test_extract_rule_named_like_a_builtin_field_is_refused(tmp_path: Path, spec: str) -> None:
    data = tmp_path / "d"
    result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--extract", spec)
    assert result.returncode == 2, result.stderr
    assert_clean_stderr(result.stderr)
    lines = result.stderr.strip().splitlines()
    name = spec.split("=", 1)[0]
    assert len(lines) == 1 and f"'{name}' is a built-in field" in lines[0], lines
    assert not data.exists()
