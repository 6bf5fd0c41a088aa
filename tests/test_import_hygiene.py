"""The core never imports the UI: headless runs must not load Textual (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import cleanup_workers, status_of, wait_for

CORE = [
    "tui_scraper.domain",
    "tui_scraper.backends.sqlite",
    "tui_scraper.engine.crawler",
    "tui_scraper.engine.parse",
    "tui_scraper.engine.parse_pool",
    "tui_scraper.engine.fetch_pool",
    "tui_scraper.engine.fetch_worker",
    "tui_scraper.runtime.manager",
    "tui_scraper.runtime.worker",
    "tui_scraper.export",
    "tui_scraper.cli",
    "tui_scraper.formatting",
    "tui_scraper.service",
    "tui_scraper.service.local",
    "tui_scraper.demo",
]


def test_core_imports_without_textual_or_rich() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        + "bad += sorted(m for m in sys.modules if m.startswith('tui_scraper.ui'))\n"
        + "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_headless_cli_never_loads_textual(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from tui_scraper.cli import main\n"
        f"code = main(['--data-dir', {str(tmp_path)!r}, 'sessions', '--json'])\n"
        "assert code == 0\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'textual'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


# What a command that only looks at the store never needs: the crawler and its HTTP stack, parser
# and process pool are most of a crawl's start-up (the engine is imported where a crawl is
# created or started), and the demo site and the UI are for other commands altogether.
NOT_FOR_LOOKS = (
    "aiohttp",
    "httpx",
    "httpx_aiohttp",
    "selectolax",
    "multiprocessing",
    "textual",
    "rich",
    "tui_scraper.engine",
    "tui_scraper.demo",
    "tui_scraper.ui",
    "tui_scraper.runtime.worker",
    "tui_scraper.runtime.spawn",
)


def _loaded_after(argv: list[str], banned: tuple[str, ...]) -> tuple[object, list[str]]:
    """Run `main(argv)` in a fresh interpreter; (its result, the banned modules it loaded)."""
    code = (
        "import json, sys\n"
        "from tui_scraper.cli import main\n"
        "try:\n"
        f"    result = main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    result = exc.code\n"
        f"banned = {banned!r}\n"
        "hit = sorted(m for m in sys.modules if any(m == b or m.startswith(b + '.') "
        "for b in banned))\n"
        "print(json.dumps([result, hit]), file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    result, hit = json.loads(out.stderr.strip().splitlines()[-1])
    return result, hit


def _create_session(data_dir: Path, url: str) -> str:
    """A pending session in `data_dir` (created in a process of its own, with the engine)."""
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tui_scraper.domain import CrawlConfig\n"
        "from tui_scraper.service.local import LocalSessionService\n"
        "async def make():\n"
        "    service = await LocalSessionService.open(Path(sys.argv[1]), who='test')\n"
        "    try:\n"
        "        print((await service.create(CrawlConfig(target_url=sys.argv[2]))).id)\n"
        "    finally:\n"
        "        await service.close()\n"
        "asyncio.run(make())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(data_dir), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["sessions", "--json"],
        ["sessions"],
        ["show", "{id}", "--json"],
        ["show", "{id}"],
        ["export", "{id}", "--format", "jsonl", "-o", "{out}"],
        ["pause", "{id}"],
        ["dismiss", "{id}"],
    ],
    ids=lambda command: " ".join(a for a in command if not a.startswith("{")),
)
def test_commands_that_look_never_load_the_engine(tmp_path: Path, command: list[str]) -> None:
    data_dir = tmp_path / "d"
    session_id = _create_session(data_dir, "http://127.0.0.1:9/")
    argv = ["--data-dir", str(data_dir)] + [
        arg.format(id=session_id, out=tmp_path / "out.jsonl") for arg in command
    ]
    result, hit = _loaded_after(argv, NOT_FOR_LOOKS)
    # `pause` of a session that is not running and `dismiss` of a pending one are refused
    # (exit 2): they still open the store, which is the part measured here.
    assert result in (0, 2), result
    assert hit == []


@pytest.mark.parametrize(
    "command", [["sessions", "--json"], ["show", "{id}", "--json"]], ids=" ".join
)
def test_a_listing_never_loads_the_channel_client(tmp_path: Path, command: list[str]) -> None:
    data_dir = tmp_path / "d"
    session_id = _create_session(data_dir, "http://127.0.0.1:9/")
    argv = ["--data-dir", str(data_dir)] + [arg.format(id=session_id) for arg in command]
    banned = ("tui_scraper.service.remote", "tui_scraper.service.channel_client")
    result, hit = _loaded_after(argv, banned)
    assert result == 0
    assert hit == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["crawl", "--help"],
        ["crawl", "not a url", "--headless"],
        ["crawl", "http://127.0.0.1:9/", "--headless", "--concurrency", "0"],
        ["sessions", "--no-such-option"],
        ["set", "abc123", "--rate", "-1"],
    ],
    ids=" ".join,
)
def test_help_and_refused_arguments_need_no_event_loop_or_store(
    tmp_path: Path, argv: list[str]
) -> None:
    # Parsing and checking the arguments come first; the loop, the service and the store only
    # once they are good.
    banned = ("asyncio", "aiosqlite", "tui_scraper.service", "tui_scraper.backends")
    result, hit = _loaded_after(["--data-dir", str(tmp_path / "d"), *argv], banned)
    assert result == (0 if "--help" in argv else 2)
    assert hit == []
    assert not (tmp_path / "d").exists()


def test_headless_crawl_never_loads_textual_or_rich(tmp_path: Path) -> None:
    server = SiteServer(generated_site(3, filler=1)).start()
    try:
        argv = [
            "--data-dir",
            str(tmp_path / "d"),
            "crawl",
            server.base + "/",
            "--headless",
            "--ignore-robots",
        ]
        # Nor the client side of a worker's channel: this crawl runs here.
        banned = ("textual", "rich", "tui_scraper.ui", "tui_scraper.service.remote")
        result, hit = _loaded_after(argv, banned)
    finally:
        server.stop()
    assert result == 0
    assert hit == []


def test_starting_a_background_worker_loads_no_crawler(tmp_path: Path) -> None:
    # The starter checks the config (the parser's selectors, the TLS options) and waits for the
    # worker's hello; the crawler, its HTTP client and the process pool are the worker's.
    server = SiteServer(generated_site(3, filler=1)).start()
    data_dir = tmp_path / "d"
    try:
        with cleanup_workers(data_dir):
            argv = ["--data-dir", str(data_dir), "crawl", server.base + "/", "--detach"]
            result, hit = _loaded_after(
                argv,
                (
                    "aiohttp",
                    "httpx_aiohttp",
                    "multiprocessing",
                    "tui_scraper.engine.crawler",
                    "tui_scraper.runtime.worker",
                    "tui_scraper.runtime.worker_process",
                    "textual",
                ),
            )
            assert result == 0
            session_id = next((data_dir / "logs").glob("*.log")).stem
            wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=60)
    finally:
        server.stop()
    assert hit == []


async def test_sniffio_is_installed_for_httpcore() -> None:
    # Without sniffio, httpcore retries the import on every request and
    # httpx runs about 2x slower. It is a declared dependency; this notices if it goes missing.
    from importlib.metadata import requires

    import sniffio

    declared = [r.split(">")[0].split("=")[0].strip() for r in requires("tui-scraper") or []]
    assert "sniffio" in declared
    assert sniffio.current_async_library() == "asyncio"  # what httpcore asks on every lock
