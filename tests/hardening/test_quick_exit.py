"""The program, and a background worker, end without the interpreter's teardown once their work
is done, and lose nothing by it: exit handlers run, buffered output arrives, the store is closed,
the exit code is the command's. A thread a normal exit would wait for gets the normal exit.

Each case runs a real interpreter as the program (`main()` with no arguments, as the console
script and `python -m tui_scraper` call it) with a marker object whose `__del__` only the
interpreter's teardown would run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import create_session, status_of

# The program, with three witnesses set up first: an object only the teardown deletes, an exit
# handler, and a line left in stdout's buffer.
PROGRAM = """
import atexit, sys, threading
from tui_scraper.cli import main

class Witness:
    def __del__(self):
        print("torn down", file=sys.stderr)

witness = Witness()
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
if "--keep-thread" in sys.argv:
    sys.argv.remove("--keep-thread")
    release = threading.Event()
    threading.Thread(target=release.wait, args=(1.0,)).start()  # not a daemon
sys.stdout.write("buffered before the command\\n")
as_program = "--as-function" not in sys.argv
if not as_program:
    sys.argv.remove("--as-function")
sys.exit(main() if as_program else main(sys.argv[1:]))
"""


# The background worker's program, with the same witnesses.
WORKER_PROGRAM = """
import atexit, runpy, sys

class Witness:
    def __del__(self):
        print("torn down", file=sys.stderr)

witness = Witness()
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
runpy.run_module("tui_scraper.runtime.worker_main", run_name="__main__")
"""


def program(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )


def test_a_crawl_ends_without_teardown_and_loses_nothing(tmp_path: Path) -> None:
    server = SiteServer(generated_site(5, filler=1)).start()
    data = tmp_path / "d"
    try:
        done = program(
            "--data-dir",
            str(data),
            "crawl",
            server.base + "/",
            "--headless",
            "--ignore-robots",
            "--json",
            cwd=tmp_path,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "buffered before the command"
    record = json.loads(lines[-1])
    assert record["status"] == "completed"
    assert record["counts"]["done"] == 5
    assert "exit handler ran" in done.stderr
    assert "torn down" not in done.stderr  # no teardown: the point of it
    # The store was closed before the exit: its last connection removed the WAL files.
    assert not (data / "scraper.db-wal").exists()
    listed = program("--data-dir", str(data), "sessions", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    _buffered, listing = listed.stdout.split("\n", 1)
    assert json.loads(listing)[0]["status"] == "completed"


def test_the_exit_code_of_a_refused_command_is_kept(tmp_path: Path) -> None:
    done = program("--data-dir", str(tmp_path / "d"), "show", "abc123", cwd=tmp_path)
    assert done.returncode == 2
    assert "torn down" not in done.stderr
    assert "exit handler ran" in done.stderr
    assert done.stdout == "buffered before the command\n"


def test_a_live_thread_gets_the_normal_exit(tmp_path: Path) -> None:
    done = program(
        "--data-dir", str(tmp_path / "d"), "sessions", "--json", "--keep-thread", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    # The normal exit waited for the thread, then tore the interpreter down.
    assert "torn down" in done.stderr
    assert json.loads(done.stdout.split("\n", 1)[1]) == []


def test_main_called_with_arguments_only_returns(tmp_path: Path) -> None:
    done = program(
        "--data-dir", str(tmp_path / "d"), "sessions", "--json", "--as-function", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "torn down" in done.stderr


def test_the_background_worker_ends_without_teardown(tmp_path: Path) -> None:
    server = SiteServer(generated_site(5, filler=1)).start()
    data = tmp_path / "d"
    data.mkdir()
    try:
        session_id = create_session(data, server.base + "/", respect_robots=False)
        done = subprocess.run(
            [sys.executable, "-P", "-c", WORKER_PROGRAM, "--data-dir", str(data), session_id],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert status_of(data, session_id) == "completed"
    assert "stopped: completed" in done.stdout  # its log, flushed
    assert "exit handler ran" in done.stderr
    assert "torn down" not in done.stderr
