"""Real background workers for the Pilot tests: the real local service over a temp data dir,
sessions started with `service.start_detached` against a generated site on 127.0.0.1, and every
worker left over SIGKILLed (and SIGCONTed first, should a test have stopped one) at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import kill_workers
from tui_scraper.domain import CrawlConfig
from tui_scraper.service import WorkerInfo
from tui_scraper.service.local import LocalSessionService
from tui_scraper.ui.app import ScraperApp

SITE_PAGES = 80


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short: a worker's socket path (run/<32 hex>.sock) must fit AF_UNIX's 107 bytes, which
    # pytest's tmp_path under a long test name does not.
    path = Path(tempfile.mkdtemp(prefix="tsui-", dir="/tmp"))
    try:
        yield path
    finally:
        kill_workers(path)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(SITE_PAGES, filler=5)).start()
    yield server
    server.stop()


@pytest.fixture
async def local(data_dir: Path) -> AsyncIterator[LocalSessionService]:
    """The real service, as the app opens it (the app closes it when one ran)."""
    service = await LocalSessionService.open(data_dir, who="ui")
    try:
        yield service
    finally:
        with contextlib.suppress(Exception):  # already closed by the app
            await service.close()


async def start_in_worker(
    service: LocalSessionService, site: SiteServer, **config: object
) -> tuple[str, WorkerInfo]:
    """A new session of `site`, started in a background worker; (its id, the worker)."""
    record = await service.create(CrawlConfig(target_url=f"{site.base}/", **config))  # type: ignore[arg-type]
    worker = await service.start_detached(record.id)
    return record.id, worker


def worker_app(service: LocalSessionService, *, attach: str | None = None) -> ScraperApp:
    """The app over `service`, with its real timers (the screens follow workers by themselves)."""
    return ScraperApp(service=service, sample_hz=4.0, cursor_blink=False, attach=attach)


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The worker frozen (SIGSTOP) inside the block, and always let go again."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
