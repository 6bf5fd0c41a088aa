"""What a crawl's process tree holds, pinned in real crawls with real worker processes.

The tree's memory (PSS, `benchmarks/proctree.py --pss`) depends on which processes exist and on
what each imported, and where: a module the forkserver preloads is shared by every fetch worker,
one a worker imports after its fork is private to it. Each gain that can be pinned without a
figure is pinned here: no resource_tracker process, no SQLite in a fetch worker, the forkserver
preloads the workers' event loop and the blob writer and freezes its heap.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import create_session, done_pages, kill_workers, wait_for, worker_argv
from tui_scraper.runtime.detach import log_path_for, spawn_detached

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import proctree  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

# SQLite's compiled module: loaded by `import sqlite3`, which aiosqlite and the store import.
SQLITE_MODULE = "/_sqlite3."


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(60, filler=5)).start()
    yield server
    server.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "d"
    path.mkdir()
    yield path
    kill_workers(path)


def _mapped_files(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as handle:
        return {line.split()[-1] for line in handle if "/" in line}


@contextlib.contextmanager
def running_crawl(how: str, data_dir: Path, site: SiteServer) -> Iterator[int]:
    """A crawl of `site` paced to last a few seconds, in a background worker (the app's way) or
    in the CLI's own process (`crawl --headless`); yields the crawl's pid once pages are done."""
    if how == "background worker":
        session_id = create_session(data_dir, f"{site.base}/", rate_per_host=10.0)
        argv = worker_argv(data_dir, session_id)
        proc: subprocess.Popen[bytes] = spawn_detached(
            argv, log_path=log_path_for(data_dir, session_id)
        )
    else:
        argv = [sys.executable, "-m", "tui_scraper", "--data-dir", str(data_dir)]
        argv += ["crawl", f"{site.base}/", "--headless", "--rate", "10"]
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    try:
        wait_for(lambda: _done_pages(data_dir) >= 5, timeout=60, what="pages done")
        yield proc.pid
    finally:
        proc.kill()
        proc.wait(30)


def _done_pages(data_dir: Path) -> int:
    if not (data_dir / "scraper.db").exists():  # the CLI has not made it yet
        return 0
    try:
        return done_pages(data_dir)
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def _roles(root: int) -> dict[int, str]:
    return {pid: proctree.role_of(pid, root) for pid in proctree.tree_pids(root)}


@pytest.mark.parametrize("how", ["background worker", "headless CLI"])
def test_the_tree_is_the_crawl_a_forkserver_and_its_fetch_workers(
    how: str, data_dir: Path, site: SiteServer
) -> None:
    # multiprocessing would start a resource_tracker interpreter beside the forkserver; the
    # crawl makes nothing it tracks, so none runs.
    with running_crawl(how, data_dir, site) as pid:
        roles = _roles(pid)
        assert sorted(roles.values()) == ["fetch worker", "fetch worker", "forkserver", "root"]


@pytest.mark.parametrize("how", ["background worker", "headless CLI"])
def test_fetch_workers_never_load_sqlite(how: str, data_dir: Path, site: SiteServer) -> None:
    # A worker unpickles the blob writer it writes pages with, which imports the sqlite backend
    # package: that package loads its store (sqlite3, aiosqlite) only when asked for it.
    with running_crawl(how, data_dir, site) as pid:
        roles = _roles(pid)
        assert any(SQLITE_MODULE in f for f in _mapped_files(pid))  # the crawl's own: the store
        workers = [p for p, role in roles.items() if role == "fetch worker"]
        assert workers
        for worker in workers:
            mapped = _mapped_files(worker)
            assert any("aiohttp" in f for f in mapped)  # a fetch worker: it runs the client
            assert not [f for f in mapped if SQLITE_MODULE in f or "libsqlite3" in f]


@pytest.mark.parametrize("how", ["background worker", "headless CLI"])
def test_the_forkserver_preloads_the_workers_loop_and_blob_writer(
    how: str, data_dir: Path, site: SiteServer
) -> None:
    # What the forkserver imported before forking is shared by the workers (PSS splits it);
    # what they import after is private to each.
    with running_crawl(how, data_dir, site) as pid:
        roles = _roles(pid)
        (server,) = [p for p, role in roles.items() if role == "forkserver"]
        assert any("uvloop" in f and "/loop." in f for f in _mapped_files(server))
        line = proctree.cmdline(server)
        assert "'tui_scraper.backends.sqlite.blobs'" in line
        assert "'tui_scraper.engine.forkserver_preload']" in line  # last: it freezes the heap


def _fresh_interpreter(code: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return out.stdout.split()


def test_the_preload_freezes_the_heap_it_imported() -> None:
    # gc.freeze: a fetch worker's full collections never walk (and so never copy) the objects
    # it inherited from the forkserver.
    code = (
        "import gc, sys\n"
        "import tui_scraper.engine.forkserver_preload\n"
        "print(gc.get_freeze_count() > 10_000, 'uvloop' in sys.modules,\n"
        "      'tui_scraper.engine.aiohttp_transport' in sys.modules, 'sqlite3' in sys.modules)\n"
    )
    assert _fresh_interpreter(code) == ["True", "True", "True", "False"]
    uvloop_off = {"TUI_SCRAPER_UVLOOP": "0"}
    assert _fresh_interpreter(code, uvloop_off) == ["True", "False", "True", "False"]


def test_the_blob_writer_imports_no_database() -> None:
    code = (
        "import sys\n"
        "from tui_scraper.backends.sqlite.blobs import BlobStore\n"
        "print(sorted(m for m in sys.modules if 'sqlite3' in m or m.startswith('aiosqlite')\n"
        "             or m.startswith('tui_scraper.backends.sqlite.') and m[-6:] != '.blobs'))\n"
    )
    assert _fresh_interpreter(code) == ["[]"]


def test_the_backend_package_still_exports_every_name() -> None:
    import tui_scraper.backends.sqlite as backend
    from tui_scraper.backends.sqlite import blobs, db, store
    from tui_scraper.domain import errors

    assert backend.Store is store.Store
    assert backend.BlobStore is blobs.BlobStore and backend.write_blob is blobs.write_blob
    assert backend.StorageUnavailable is db.StorageUnavailable
    assert backend.ControlNotFound is errors.ControlNotFound
    assert set(backend.__all__) <= set(dir(backend))
    with pytest.raises(AttributeError):
        _ = backend.NoSuchName  # type: ignore[attr-defined]


def test_proctree_pss_prints_each_process_share_of_the_peak() -> None:
    # The tool behind the figures above: a parent holding 20 MiB forks a child that keeps
    # sharing it and makes 10 MiB of its own, so the tree peaks, with both alive, at about
    # 30 MiB plus two interpreters, split between the two lines it prints.
    code = (
        "import os, sys, time\n"
        "block = bytearray(os.urandom(20 << 20))\n"
        "if os.fork() == 0:\n"
        "    own = bytearray(os.urandom(10 << 20))\n"
        "    time.sleep(1.5); os._exit(0)\n"
        "time.sleep(1.5); os.wait()\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "proctree.py"),
            "--pss",
            "--",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    assert out[0].startswith("tree peak PSS ") and out[0].endswith("of it:"), out
    peak = float(out[0].split()[3])
    shares = [float(line.split()[-2]) for line in out[1:]]
    assert [line.split()[0] for line in out[1:]] == ["root", Path(sys.executable).name]
    assert 30 <= peak < 55  # the shared block once: twice would be 50 plus the interpreters
    assert abs(sum(shares) - peak) < 0.3  # the shares are of that one sample
