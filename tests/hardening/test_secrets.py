"""T24 end to end: secrets from the command line are sent to the seed's origin only and never
stored or printed. The seed's links redirect to (and point at) a second server on 127.0.0.2."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from engine.invariants import assert_store_invariants
from engine.site import SiteServer, page_html

from .conftest import assert_clean_stderr, cli, dump_db, only_session, pages

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
