"""Schedule times: intervals, cron expressions (croniter) and time zones across DST (zoneinfo)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tui_scraper.domain.errors import ConfigError
from tui_scraper.domain.schedules import check_cron, describe_seconds, next_run_after, parse_every

PARIS = ZoneInfo("Europe/Paris")


def _at(*fields: int) -> float:
    return datetime(*fields, tzinfo=PARIS).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), ("2.5s", 2.5)]
)
def test_intervals(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["6", "h", "6 hours", "-1h", "0.5s", ""])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_every(text)


def test_interval_names() -> None:
    assert [describe_seconds(s) for s in (2, 90, 1800, 21600, 86400)] == [
        "2s",
        "90s",
        "30m",
        "6h",
        "1d",
    ]


@pytest.mark.parametrize("text", ["61 * * * *", "* * *", "not a cron", "0 3 * * 9", ""])
def test_bad_cron_is_a_config_error_with_the_expression(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_cron(text)
    assert caught.value.field == "cron"


def test_a_daily_cron_keeps_its_wall_time_across_the_spring_change() -> None:
    # Paris moves from UTC+1 to UTC+2 on 2026-03-29: 03:00 local is 02:00 UTC before, 01:00 after.
    first = next_run_after(
        every_s=None, cron="0 3 * * *", tz="Europe/Paris", after=_at(2026, 3, 28, 12)
    )
    second = next_run_after(every_s=None, cron="0 3 * * *", tz="Europe/Paris", after=first)
    assert datetime.fromtimestamp(first, PARIS) == datetime(2026, 3, 29, 3, tzinfo=PARIS)
    assert datetime.fromtimestamp(second, PARIS) == datetime(2026, 3, 30, 3, tzinfo=PARIS)
    # 03:00 on the 29th is already summer time, so the next 03:00 is 24 h later; the UTC time
    # of the run moved by an hour across the change.
    assert second - first == 86400
    before = next_run_after(
        every_s=None, cron="0 3 * * *", tz="Europe/Paris", after=_at(2026, 3, 27, 12)
    )
    assert first - before == 23 * 3600


def test_a_time_the_spring_change_skips_runs_once_that_day() -> None:
    # 02:30 does not exist in Paris on 2026-03-29: croniter's answer, one run that day.
    runs = []
    after = _at(2026, 3, 28, 12)
    for _ in range(3):
        after = next_run_after(every_s=None, cron="30 2 * * *", tz="Europe/Paris", after=after)
        runs.append(datetime.fromtimestamp(after, PARIS))
    assert [r.date().isoformat() for r in runs] == ["2026-03-29", "2026-03-30", "2026-03-31"]
    assert runs[1].hour == 2 and runs[1].minute == 30


def test_an_hour_the_autumn_change_repeats_is_croniters_to_match() -> None:
    # 02:30 happens twice in Paris on 2026-10-25 (summer time, then winter time): croniter
    # matches both, an hour apart, and then the next day's. Pinned so a croniter release that
    # changes it is noticed (README, "Queue and schedules", says so).
    after = _at(2026, 10, 24, 12)
    times = []
    for _ in range(3):
        after = next_run_after(every_s=None, cron="30 2 * * *", tz="Europe/Paris", after=after)
        times.append(after)
    days = [datetime.fromtimestamp(t, PARIS).date().isoformat() for t in times]
    assert days == ["2026-10-25", "2026-10-25", "2026-10-26"]
    assert times[1] - times[0] == 3600


def test_the_same_cron_in_two_zones_differs_by_their_offset() -> None:
    after = datetime(2026, 7, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    utc = next_run_after(every_s=None, cron="0 3 * * *", tz="UTC", after=after)
    paris = next_run_after(every_s=None, cron="0 3 * * *", tz="Europe/Paris", after=after)
    assert utc - paris == 2 * 3600


def test_an_interval_counts_from_the_time_given() -> None:
    assert next_run_after(every_s=2.0, cron=None, tz="UTC", after=100.0) == 102.0
