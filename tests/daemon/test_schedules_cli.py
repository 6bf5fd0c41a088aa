"""Schedules with the real service process and real time: a schedule every 2 s fires, records
its runs and stops after `remove`; a run due while the previous one still runs is skipped and
recorded; a bad cron expression is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.engine.site import SiteServer

from .helpers import cli, rows, running_transitions, status, wait_for


def _add(data_dir: Path, url: str, *options: str) -> str:
    result = cli(data_dir, "schedule", "add", url, "--json", *options)
    assert result.returncode == 0, result.stderr
    schedule_id = json.loads(result.stdout)["id"]
    assert isinstance(schedule_id, str)
    return schedule_id


def _runs(data_dir: Path, schedule_id: str) -> list[dict[str, Any]]:
    return rows(
        data_dir, "SELECT * FROM schedule_runs WHERE schedule_id = ? ORDER BY id", schedule_id
    )


def _started(data_dir: Path, schedule_id: str) -> list[str]:
    return [r["session_id"] for r in _runs(data_dir, schedule_id) if r["outcome"] == "started"]


def test_a_schedule_every_2s_fires_records_its_runs_and_stops_after_remove(
    data_dir: Path, site: SiteServer
) -> None:
    watched = _add(data_dir, f"{site.base}/", "--every", "2s", "--max-pages", "2")
    # A second schedule that keeps firing: the service's clock, to wait on after the remove.
    clock = _add(data_dir, f"{site.base}/p1", "--every", "1s", "--max-pages", "1")
    assert cli(data_dir, "service", "start", "--parallel", "2").returncode == 0
    wait_for(lambda: len(_started(data_dir, watched)) >= 2, timeout=60, what="two runs")
    first = _started(data_dir, watched)[0]
    wait_for(lambda: status(data_dir, first) == "completed", timeout=60, what="a run completes")
    shown = json.loads(cli(data_dir, "show", first[:8], "--json").stdout)
    assert shown["schedule_id"] == watched
    listed = {s["id"]: s for s in json.loads(cli(data_dir, "schedule", "list", "--json").stdout)}
    assert listed[watched]["timing"] == "every 2s"
    assert listed[watched]["missed_policy"] == "run-once"
    assert listed[watched]["last_session_id"] in _started(data_dir, watched)

    removed = cli(data_dir, "schedule", "remove", watched[:8])
    assert removed.returncode == 0, removed.stderr
    count = len(_runs(data_dir, watched))
    ticks = len(_runs(data_dir, clock))
    wait_for(lambda: len(_runs(data_dir, clock)) >= ticks + 3, timeout=60, what="3 s go by")
    assert len(_runs(data_dir, watched)) == count, "no run after remove"
    assert watched not in cli(data_dir, "schedule", "list").stdout
    # Each run is one session, crawled by one worker.
    for session_id in _started(data_dir, watched):
        wait_for(lambda s=session_id: status(data_dir, s) != "pending", timeout=60)
        assert running_transitions(data_dir, session_id) <= 1


def test_a_run_due_while_the_previous_one_runs_is_skipped_and_recorded(
    data_dir: Path, site: SiteServer
) -> None:
    # Each run takes several seconds (30 pages at 5/s); the schedule comes due every second.
    schedule_id = _add(
        data_dir, f"{site.base}/", "--every", "1s", "--max-pages", "30", "--rate", "5"
    )
    assert cli(data_dir, "service", "start", "--parallel", "4").returncode == 0
    wait_for(
        lambda: any(r["outcome"] == "skipped" for r in _runs(data_dir, schedule_id)),
        timeout=60,
        what="a skipped run",
    )
    runs = _runs(data_dir, schedule_id)
    skipped = [r for r in runs if r["outcome"] == "skipped"]
    assert skipped[0]["session_id"] is None
    assert "is still" in skipped[0]["detail"]
    # Never two runs of the schedule at once, whatever --parallel allows.
    live = rows(
        data_dir,
        "SELECT s.id FROM sessions s JOIN schedule_runs r ON r.session_id = s.id "
        "WHERE r.schedule_id = ? AND s.status IN ('pending', 'running')",
        schedule_id,
    )
    assert len(live) <= 1
    shown = cli(data_dir, "schedule", "show", schedule_id[:8])
    assert "skipped" in shown.stdout


def test_pause_stops_runs_and_resume_counts_from_now(data_dir: Path, site: SiteServer) -> None:
    schedule_id = _add(data_dir, f"{site.base}/", "--every", "1s", "--max-pages", "1")
    clock = _add(data_dir, f"{site.base}/p1", "--every", "1s", "--max-pages", "1")
    paused = cli(data_dir, "schedule", "pause", schedule_id[:8])
    assert paused.returncode == 0 and "paused" in paused.stdout
    assert cli(data_dir, "service", "start").returncode == 0
    wait_for(lambda: len(_runs(data_dir, clock)) >= 3, timeout=60, what="3 s go by")
    assert _runs(data_dir, schedule_id) == []
    listed = cli(data_dir, "schedule", "list").stdout
    assert "paused" in listed
    assert cli(data_dir, "schedule", "resume", schedule_id[:8]).returncode == 0
    wait_for(lambda: len(_runs(data_dir, schedule_id)) >= 1, timeout=60, what="it runs again")


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--cron", "61 * * * *", "cron: '61 * * * *' is not a cron expression"),
        ("--cron", "every day", "cron: 'every day' is not a cron expression"),
        ("--every", "6", "every: '6' is not an interval"),
    ],
)
def test_a_bad_timing_is_one_line_exit_2_and_creates_nothing(
    tmp_path: Path, option: str, value: str, said: str
) -> None:
    data_dir = tmp_path / "new"
    result = cli(data_dir, "schedule", "add", "http://127.0.0.1:9/", option, value)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and said in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()


def test_a_bad_zone_and_secret_headers_are_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    zone = cli(
        data_dir,
        "schedule",
        "add",
        "http://127.0.0.1:9/",
        "--cron",
        "0 3 * * *",
        "--tz",
        "Nowhere/X",
    )
    assert zone.returncode == 2 and "not a known time zone" in zone.stderr
    secret = cli(
        data_dir, "schedule", "add", "http://127.0.0.1:9/", "--every", "1h", "--header", "A: b"
    )
    assert secret.returncode == 2 and "secret headers" in secret.stderr
    assert not data_dir.exists()


def test_an_unknown_schedule_id_is_one_line_exit_2(data_dir: Path) -> None:
    result = cli(data_dir, "schedule", "remove", "abcdef")
    assert result.returncode == 2
    assert "no schedule matches 'abcdef'" in result.stderr
