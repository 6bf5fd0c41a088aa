"""The trap guard's counting rules (engine/traps.py), as a unit."""

from __future__ import annotations

import json

from tui_scraper.domain import CrawlConfig
from tui_scraper.domain.config import DEFAULT_MAX_PARAM_VALUES, DEFAULT_MAX_PER_PATTERN
from tui_scraper.engine.traps import TrapGuard

BASE = "http://example.com"


def test_calendar_pattern_is_capped_and_announced_once() -> None:
    guard = TrapGuard(max_per_pattern=5, max_param_values=0)
    admitted = [guard.admit(f"{BASE}/diary/2024/01/{day:02d}/") for day in range(1, 11)]
    assert admitted == [True] * 5 + [False] * 5
    assert guard.new_saturations() == [f"more than 5 URLs like {BASE}/diary/N/N/N/"]
    assert guard.new_saturations() == []
    assert guard.admit(f"{BASE}/diary/2024/01/03/")  # already admitted: still fine
    assert guard.admit(f"{BASE}/other/1")  # another pattern has its own budget


def test_query_parameter_values_are_capped_per_host() -> None:
    guard = TrapGuard(max_per_pattern=0, max_param_values=3)
    # Pagination: few values, many paths -> never capped.
    for category in range(20):
        for page in (1, 2, 3):
            assert guard.admit(f"{BASE}/c{category}/list?page={page}")
    # A token that changes on every link is capped after 3 values, on every path.
    tokens = [guard.admit(f"{BASE}/x{n}?s=tok{n}") for n in range(6)]
    assert tokens == [True, True, True, False, False, False]
    assert guard.new_saturations() == [f"more than 3 values of query parameter 's' on {BASE}"]
    assert guard.admit(f"{BASE}/new?s=tok1")  # a known value stays allowed
    assert guard.admit("http://other.example/x?s=fresh")  # another host, another budget


def test_a_refused_url_changes_no_count() -> None:
    guard = TrapGuard(max_per_pattern=2, max_param_values=2)
    assert guard.admit(f"{BASE}/a?k=1")
    assert guard.admit(f"{BASE}/a?k=2")
    assert not guard.admit(f"{BASE}/b?k=3")  # k is saturated; /b's pattern not charged
    assert guard.admit(f"{BASE}/b")
    assert guard.admit(f"{BASE}/b?j=1")


def test_zero_limits_disable_the_guard() -> None:
    guard = TrapGuard(max_per_pattern=0, max_param_values=0)
    assert not guard.enabled
    assert all(guard.admit(f"{BASE}/cal?day={n}") for n in range(5000))
    assert guard.new_saturations() == []


def test_config_stored_before_the_new_fields_still_loads() -> None:
    # A config JSON as stored before the trap guard and TLS options existed.
    old = CrawlConfig("http://127.0.0.1/").to_json()
    data = json.loads(old)
    for name in ("trap_max_per_pattern", "trap_max_param_values", "ca_bundle", "insecure"):
        data.pop(name)
    loaded = CrawlConfig.from_json(json.dumps(data))
    assert loaded.trap_max_per_pattern == DEFAULT_MAX_PER_PATTERN
    assert loaded.trap_max_param_values == DEFAULT_MAX_PARAM_VALUES
    assert loaded.ca_bundle is None and loaded.insecure is False
    assert CrawlConfig.from_json(loaded.to_json()) == loaded
