"""T24 end to end: secrets from the command line are sent to the seed's origin only and never
stored or printed. The seed's links redirect to (and point at) a second server on 127.0.0.2."""

from __future__ import annotations

import json
import signal
import stat
from pathlib import Path

from aiohttp import web
from engine.invariants import assert_store_invariants
from engine.site import SiteServer, page_html

from .conftest import assert_clean_stderr, cli, dump_db, only_session, pages, popen_cli

SECRET = "S3CR3T"


class HeaderLog(SiteServer):
    """SiteServer that also keeps every request's headers."""

    headers: list[tuple[str, dict[str, str]]]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.headers.append(
                (request.path_qs, {k.lower(): v for k, v in request.headers.items()})
            )
        return await super()._handle(request)


def _server(host: str, site: dict[str, str]) -> HeaderLog:
    server = HeaderLog(site, host=host)
    server.headers = []
    return server


def test_secrets_not_persisted_or_leaked(tmp_path: Path) -> None:
    other = _server(
        "127.0.0.2",
        {
            "/": page_html("Other", ["/o/1.html"]),
            "/o/1.html": page_html("Other 1", []),
            "/landing.html": page_html("Landing", []),
        },
    ).start()
    seed_site = {
        "/": page_html("Seed", ["/s/1.html", "/go", other.base + "/", "/gone.html"]),
        "/s/1.html": page_html("Seed 1", []),
    }
    seed = _server("127.0.0.1", seed_site)
    seed.extra["/go"] = lambda _r: web.Response(
        status=302, headers={"Location": other.base + "/landing.html"}
    )
    seed.start()
    data = tmp_path / "d"
    secret_args = (
        "--header",
        f"Authorization: Bearer {SECRET}",
        "--header",
        f"X-Api-Key: {SECRET}",
        "--cookie",
        f"sid={SECRET}",
    )
    try:
        result = cli(
            data,
            "crawl",
            seed.base + "/",
            "--headless",
            "--scope",
            "any",
            "--allow-private",
            *secret_args,
        )
        assert result.returncode == 0, result.stderr
        assert_clean_stderr(result.stderr)
        rows = pages(data)
        assert rows[other.base + "/landing.html"][0] == "done"
        assert rows[other.base + "/o/1.html"][0] == "done"
        assert rows[seed.base + "/s/1.html"][0] == "done"

        # The seed's origin got every secret on every request ...
        seed_requests = [h for p, h in seed.headers if p != "/robots.txt"]
        assert seed_requests
        for h in seed_requests:
            assert h.get("authorization") == f"Bearer {SECRET}"
            assert h.get("x-api-key") == SECRET
            assert f"sid={SECRET}" in h.get("cookie", "")
        # ... the other host never saw one, not even after the redirect from the seed.
        assert other.headers
        for path, h in other.headers:
            assert SECRET not in json.dumps(h), (path, h)

        session_id = only_session(data)[0]
        outputs = [result.stdout, result.stderr, dump_db(data)]
        for fmt in ("jsonl", "csv"):
            out = tmp_path / f"export.{fmt}"
            exported = cli(data, "export", session_id[:8], "--format", fmt, "-o", str(out))
            assert exported.returncode == 0, exported.stderr
            outputs += [out.read_text(), exported.stdout, exported.stderr]
        for args in (
            ("show", session_id[:8], "--json"),
            ("show", session_id[:8]),
            ("sessions", "--json"),
            ("sessions",),
        ):
            shown = cli(data, *args)
            assert shown.returncode == 0, shown.stderr
            outputs += [shown.stdout, shown.stderr]
        for text in outputs:
            assert SECRET not in text
        # The header names are recorded (so a resume knows what it is missing), not the values.
        config = json.loads(cli(data, "show", session_id[:8], "--json").stdout)["config"]
        assert "Authorization" in json.dumps(config)
        # Raw bytes of every file outside the secrets store (db, wal, locks; blobs are page
        # bodies, which carry no secret here).
        for path in data.rglob("*"):
            if path.is_file() and "secrets" not in path.parts:
                assert SECRET.encode() not in path.read_bytes(), path
        # The session is final, so the file that held the values is gone, and the CLI said so
        # (while a session is resumable the file stays: test_secrets_file_lives_while_resumable).
        assert list((data / "secrets").glob("*")) == []
        assert f"deleted the secret headers of session {session_id[:8]}" in result.stderr
        assert_store_invariants(data)
    finally:
        seed.stop()
        other.stop()


def _interrupted_with_secrets(
    tmp_path: Path, server: HeaderLog, *secret_args: str, env: dict[str, str] | None = None
) -> tuple[Path, str]:
    """A crawl with secrets, stopped by SIGINT once it runs: resumable, secrets kept."""
    data = tmp_path / "d"
    proc = popen_cli(
        data, "crawl", server.base + "/", "--headless", "--rate", "0.5", *secret_args, env=env
    )
    assert proc.stdout is not None
    session_id = proc.stdout.readline().strip()
    assert len(session_id) == 32, session_id
    # What `ps` shows of the crawl: its command line. Secrets from a file or the environment
    # are not in it.
    if "--header" not in secret_args:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert SECRET.encode() not in cmdline
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_clean_stderr(err)
    assert "its secret headers are kept until the session ends" in err
    stored = data / "secrets" / f"{session_id}.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    return data, session_id


def _site() -> HeaderLog:
    return _server(
        "127.0.0.1",
        {f"/{n}.html": page_html(f"P{n}", []) for n in range(1, 6)}
        | {"/": page_html("Home", [f"/{n}.html" for n in range(1, 6)])},
    )


def test_secrets_from_file_and_env_kept_while_resumable_then_deleted(tmp_path: Path) -> None:
    server = _site().start()
    headers = tmp_path / "headers.txt"
    headers.write_text(f"# for the test\nAuthorization: Bearer {SECRET}\n\n")
    headers.chmod(0o600)
    try:
        data, session_id = _interrupted_with_secrets(
            tmp_path,
            server,
            "--header-file",
            str(headers),
            "--header-env",
            "TEST_API_HEADERS",
            env={"TEST_API_HEADERS": f"X-Api-Key: {SECRET}"},
        )
        before = len(server.headers)
        resumed = cli(data, "resume", session_id[:8], "--headless")
        assert resumed.returncode == 0, resumed.stderr
        assert_clean_stderr(resumed.stderr)
        after = [h for p, h in server.headers[before:] if p != "/robots.txt"]
        assert after, "the resumed run made no request"
        for h in after:  # the resumed run sent the secrets again
            assert h.get("authorization") == f"Bearer {SECRET}"
            assert h.get("x-api-key") == SECRET
        # Completed: the file is gone, and the CLI said so.
        assert not (data / "secrets" / f"{session_id}.json").exists()
        assert f"deleted the secret headers of session {session_id[:8]}" in resumed.stderr
        assert SECRET not in resumed.stdout + resumed.stderr
    finally:
        server.stop()


def test_resume_refuses_lost_or_damaged_secrets(tmp_path: Path) -> None:
    server = _site().start()
    try:
        data, session_id = _interrupted_with_secrets(
            tmp_path, server, "--header", f"Authorization: Bearer {SECRET}"
        )
        stored = data / "secrets" / f"{session_id}.json"
        for damage in ("truncate", "delete"):
            if damage == "truncate":
                stored.write_bytes(stored.read_bytes()[:7])
            else:
                stored.unlink()
            for args in (("--headless",), ()):
                before = dump_db(data)
                result = cli(data, "resume", session_id[:8], *args)
                assert result.returncode == 2, (damage, args, result.stderr)
                assert_clean_stderr(result.stderr)
                lines = result.stderr.strip().splitlines()
                assert len(lines) == 1, lines
                assert "Authorization" in lines[0] and "--without-secrets" in lines[0]
                assert dump_db(data) == before  # nothing started, nothing changed
        assert only_session(data)[1] == "interrupted"

        before = len(server.headers)
        result = cli(data, "resume", session_id[:8], "--headless", "--without-secrets")
        assert result.returncode == 0, result.stderr
        assert f"resuming {session_id[:8]} without its secret headers" in result.stderr
        sent = [h for _, h in server.headers[before:]]
        assert sent and all("authorization" not in h for h in sent)
        assert only_session(data)[1] == "completed"
    finally:
        server.stop()
