"""T62 end to end: TLS verification failures are permanent and clearly worded; `--ca-bundle`
trusts a local CA; `--insecure` is warned about; a bad bundle is bad input.

The certificate is generated per test with the `openssl` CLI (self-signed for 127.0.0.1) and
served by aiohttp over TLS on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from engine.site import page_html

from .conftest import assert_clean_stderr, cli, only_session, pages

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


class TlsSite:
    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.hits: Counter[str] = Counter()
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pages = {"/": page_html("Secure", ["/next"]), "/next": page_html("Next", [])}

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        body = self._pages.get(request.path)
        if body is None:
            return web.Response(status=404)
        return web.Response(text=body, content_type="text/html")

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.context)
        loop.run_until_complete(site.start())
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def start(self) -> TlsSite:
        threading.Thread(target=self._serve, daemon=True).start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [*command.split(), "-addext", "subjectAltName=IP:127.0.0.1", *files],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def site(cert: tuple[Path, Path]) -> Iterator[TlsSite]:
    server = TlsSite(*cert).start()
    yield server
    server.stop()


def test_self_signed_certificate_fails_once_permanently(tmp_path: Path, site: TlsSite) -> None:
    data = tmp_path / "d"
    t0 = time.monotonic()
    result = cli(data, "crawl", site.base + "/", "--headless", "--retries", "3")
    took = time.monotonic() - t0
    assert_clean_stderr(result.stderr)
    # Exit 1 and a failed session once a failed seed fails the session; never a retried page.
    assert result.returncode in (0, 1), result.stderr
    status, error = pages(data)[site.base + "/"]
    assert status == "failed" and error is not None, (status, error)
    assert error["kind"] == "tls", error
    assert error.get("attempts", 1) == 1, error
    assert "not trusted" in error["message"] and "self-signed" in error["message"], error
    assert "--ca-bundle" in error["message"]
    assert sum(site.hits.values()) == 0  # no request ever passed the handshake
    assert took < 10, took  # no backoff waits


def test_ca_bundle_trusts_a_local_ca(
    tmp_path: Path, site: TlsSite, cert: tuple[Path, Path]
) -> None:
    data = tmp_path / "d"
    result = cli(data, "crawl", site.base + "/", "--headless", "--ca-bundle", str(cert[0]))
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    assert only_session(data)[1] == "completed"
    rows = pages(data)
    assert rows[site.base + "/"][0] == "done" and rows[site.base + "/next"][0] == "done"
    assert site.hits["/"] == 1 and site.hits["/next"] == 1


def test_insecure_is_warned_and_fetches(tmp_path: Path, site: TlsSite) -> None:
    data = tmp_path / "d"
    result = cli(data, "crawl", site.base + "/", "--headless", "--insecure")
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    assert "--insecure: TLS certificates are NOT verified" in result.stderr
    assert pages(data)[site.base + "/"][0] == "done"


@pytest.mark.parametrize("kind", ["missing", "garbage", "directory", "with-insecure"])
def test_bad_ca_bundle_is_bad_input(tmp_path: Path, cert: tuple[Path, Path], kind: str) -> None:
    bundle = {
        "missing": tmp_path / "nope.pem",
        "garbage": tmp_path / "garbage.pem",
        "directory": tmp_path,
        "with-insecure": cert[0],
    }[kind]
    if kind == "garbage":
        bundle.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    extra = ["--insecure"] if kind == "with-insecure" else []
    data = tmp_path / "d"
    result = cli(
        data, "crawl", "https://127.0.0.1:9/", "--headless", "--ca-bundle", str(bundle), *extra
    )
    assert result.returncode == 2, result.stderr
    assert_clean_stderr(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and ("ca-bundle" in lines[0] or "insecure" in lines[0]), lines
    assert not data.exists()
