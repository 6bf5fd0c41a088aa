"""The command line as a script uses it (T29–T32): the session id on stdout, a final JSON record,
how to resume, quiet exits into a closed pipe, one line when stdout is full, defaults in --help.
The real CLI runs in a child process; sites are served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from engine.site import SiteServer, generated_site

from .conftest import RUN_CLI, assert_clean_stderr, cli, only_session, popen_cli

ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(12, filler=2)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def done(site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data dir with one completed session of 12 pages."""
    data = tmp_path_factory.mktemp("done") / "d"
    result = cli(data, "crawl", site.base + "/", "--headless")
    assert result.returncode == 0, result.stderr
    return data, only_session(data)[0]


# T29: ids, records and the way back ----------------------------------------------------------
def test_crawl_prints_the_id_and_json_prints_a_record(site: SiteServer, tmp_path: Path) -> None:
    data = tmp_path / "d"
    result = cli(data, "crawl", site.base + "/", "--headless")
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    session_id = only_session(data)[0]
    assert result.stdout == session_id + "\n"  # `id=$(tui-scraper crawl …)` gets just the id

    result = cli(tmp_path / "j", "crawl", site.base + "/", "--headless", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert ID.match(record["id"]) and record["id"] == only_session(tmp_path / "j")[0]
    assert record["status"] == "completed"
    assert record["counts"] == {"done": 12, "failed": 0, "skipped": 0, "queued": 0}
    assert isinstance(record["duration_s"], float) and record["duration_s"] >= 0


def test_interrupted_run_says_how_to_resume_and_resume_says_resumed(
    site: SiteServer, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    proc = popen_cli(data, "crawl", site.base + "/", "--headless", "--rate", "0.5")
    assert proc.stdout is not None
    session_id = proc.stdout.readline().strip()  # printed once the crawl runs
    assert ID.match(session_id), session_id
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_clean_stderr(err)
    hint = f"tui-scraper resume {session_id[:8]} --data-dir {data}"
    assert hint in err, err

    resumed = cli(data, "resume", session_id[:8], "--headless", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert f"session {session_id[:8]} resumed" in resumed.stderr
    record = json.loads(resumed.stdout)
    assert (record["id"], record["status"]) == (session_id, "completed")
    assert record["counts"]["done"] == 12


def test_headless_progress_lines_come_while_the_crawl_runs(tmp_path: Path) -> None:
    """The live progress line (from the service's watch) reaches stderr while a page is still in
    flight, then the final line, then the outcome."""
    release = threading.Event()

    async def held(_request: web.Request) -> web.StreamResponse:
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 120)
        return web.Response(text="<title>held</title>", content_type="text/html")

    site = SiteServer({"/": '<a href="/held">held</a>'}, extra={"/held": held}).start()
    try:
        proc = popen_cli(tmp_path / "d", "crawl", site.base + "/", "--headless")
        assert proc.stderr is not None
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr or []])
        reader.start()
        seen: list[str] = []
        try:
            # Not a tty: one line every few seconds; the held page keeps the crawl running.
            while not any(line.startswith("done ") for line in seen):
                seen.append(lines.get(timeout=60))
            assert proc.poll() is None, seen
        finally:
            release.set()
        assert proc.wait(timeout=60) == 0
        reader.join(timeout=10)
    finally:
        site.stop()
    while not lines.empty():
        seen.append(lines.get())
    progress = [i for i, line in enumerate(seen) if line.startswith("done ")]
    outcome = next(i for i, line in enumerate(seen) if re.match(r"session \w+ completed", line))
    assert len(progress) >= 2 and progress[-1] < outcome, seen  # a live line and the final one
    assert seen[progress[-1]].startswith("done 2  failed 0"), seen
    assert_clean_stderr("".join(seen))


def test_resume_unknown_without_headless_is_one_line(done: tuple[Path, str]) -> None:
    """Never opens the app (whose escape codes would land in the redirected stdout)."""
    data, session_id = done
    for ref in ("0000", session_id[:8]):  # unknown; and known but completed
        result = cli(data, "resume", ref)
        assert result.returncode == 2, result.stderr
        assert_clean_stderr(result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert "no session matches '0000'" in cli(data, "resume", "0000").stderr
    assert "completed" in cli(data, "resume", session_id[:8]).stderr


def test_app_refuses_a_redirected_stdout(done: tuple[Path, str], tmp_path: Path) -> None:
    data, _ = done
    out = tmp_path / "out"
    with out.open("w") as fh:
        result = subprocess.run(
            [sys.executable, str(RUN_CLI), "--data-dir", str(data)],
            stdout=fh,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert "--headless" in result.stderr and len(result.stderr.splitlines()) == 1
    assert out.read_bytes() == b""


# T30: a closed or full stdout ----------------------------------------------------------------
def _pipe_to_head(data: Path, *args: str) -> tuple[int, str]:
    """`tui-scraper ARGS | head -1`: the reader takes one line and closes the pipe."""
    proc = subprocess.Popen(
        [sys.executable, str(RUN_CLI), "--data-dir", str(data), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=60), err


@pytest.mark.parametrize(
    "args",
    [("export", "{id}"), ("sessions", "--json"), ("show", "{id}"), ("export", "{id}", "-o", "-")],
    ids=["export", "sessions-json", "show", "export-dash"],
)
def test_closed_pipe_exits_quietly(done: tuple[Path, str], args: tuple[str, ...]) -> None:
    data, session_id = done
    # Enough sessions and pages that the output cannot fit in the pipe's buffer.
    argv = [a.format(id=session_id[:8]) for a in args]
    code, err = _pipe_to_head(data, *argv, *(["--format", "csv"] if argv[0] == "export" else []))
    assert err == "", err
    assert code in (0, 141), code


def test_big_export_into_closed_pipe(tmp_path: Path) -> None:
    """Output far larger than a pipe buffer: the write itself meets EPIPE, not the last flush."""
    server = SiteServer(generated_site(150, filler=200)).start()
    try:
        data = tmp_path / "d"
        assert cli(data, "crawl", server.base + "/", "--headless").returncode == 0
    finally:
        server.stop()
    session_id = only_session(data)[0]
    for args in (("export", session_id), ("show", session_id), ("sessions", "--json")):
        code, err = _pipe_to_head(data, *args)
        assert err == "", (args, err)
        assert code in (0, 141), (args, code)
    code, _ = _pipe_to_head(data, "export", session_id)
    assert code == 141


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args", [("sessions",), ("sessions", "--json"), ("show", "{id}"), ("export", "{id}")]
)
def test_full_stdout_is_one_line(done: tuple[Path, str], args: tuple[str, ...]) -> None:
    data, session_id = done
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, str(RUN_CLI), "--data-dir", str(data)]
            + [a.format(id=session_id[:8]) for a in args],
            stdout=full,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert_clean_stderr(result.stderr)
    assert result.stderr.strip().splitlines() == [
        "tui-scraper: cannot write to standard output: No space left on device"
    ]


# T31: --help tells every default -------------------------------------------------------------
def test_help_shows_every_default_and_what_url_is(tmp_path: Path) -> None:
    crawl = cli(tmp_path, "crawl", "--help", env={"COLUMNS": "200"})
    assert crawl.returncode == 0
    text = " ".join(crawl.stdout.split())
    for expected in (
        "--retries RETRIES retries of a transient failure (timeout, 5xx, reset), 0 to 20 "
        "(default: 3)",
        "0.1 to 3600 (default: 30.0)",
        "larger pages fail (default: 10485760)",
        "requests in flight (default: 16)",
        "requests in flight per host (default: 4)",
        "(default: host)",
        "URL the start URL (http:// or https://)",
        "--header-file FILE",
        "visible to other users in `ps`",
        "(default: tui-scraper/",
    ):
        assert expected in text, expected
    for command in ("export", "resume", "sessions", "show", "dismiss", "demo"):
        shown = cli(tmp_path, command, "--help", env={"COLUMNS": "200"})
        assert shown.returncode == 0, command
        help_text = " ".join(shown.stdout.split())
        assert "--data-dir" in help_text and "(default: $TUI_SCRAPER_DATA_DIR" in help_text
    export = " ".join(cli(tmp_path, "export", "--help", env={"COLUMNS": "200"}).stdout.split())
    assert "(default: jsonl)" in export and "(default: standard output)" in export
    assert not (tmp_path / "scraper.db").exists()


@pytest.mark.parametrize("args", [("sessions",), ("show", "{id}"), ("export", "{id}")])
def test_closed_stdout_is_one_line_and_nothing_lands_in_the_db(
    done: tuple[Path, str], args: tuple[str, ...]
) -> None:
    """Started with fd 1 closed (`>&-`): the database must not become fd 1 (a stray print would
    write into it); the command says stdout is closed, exit 1."""
    data, session_id = done
    before = (data / "scraper.db").read_bytes()
    argv = [sys.executable, str(RUN_CLI), "--data-dir", str(data)]
    argv += [a.format(id=session_id[:8]) for a in args]
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *argv],
        capture_output=False,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert_clean_stderr(result.stderr)
    assert result.stderr.strip().splitlines() == [
        "tui-scraper: cannot write to standard output: Bad file descriptor"
    ]
    assert (data / "scraper.db").read_bytes() == before
