"""Fallback static server for the benchmark when nginx is not installed (aiohttp, own process).

Behaves like nginx for what the benchmark needs: `/dir` → 301 `/dir/`, `/dir/` serves
`dir/index.html`, the query string is ignored for lookup, and one access-log line per request
in the same format as the generated nginx config: `<epoch seconds> <status> "<request uri>"`.
Files are read into memory at start so the server spends its CPU on HTTP, not on disk.

    python benchmarks/static_server.py ROOT LOGFILE   # prints "PORT <n>" once listening
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

from aiohttp import web


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    # Line-buffered: the runner reads the log after each crawler run. Open for the whole
    # life of the process (it ends by signal), hence no `with`.
    log = open(sys.argv[2], "a", buffering=1)  # noqa: SIM115
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    for path in root.rglob("*"):
        rel = "/" + path.relative_to(root).as_posix()
        if path.is_dir():
            dirs.add(rel)
        elif not path.name.startswith("."):
            files[rel] = path.read_bytes()

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in dirs:
            response: web.StreamResponse = web.Response(
                status=301, headers={"Location": path + "/"}
            )
        else:
            body = files.get(path + "index.html" if path.endswith("/") else path)
            if body is None:
                response = web.Response(status=404, text="not found")
            else:
                kind = "text/html" if path.endswith((".html", "/")) else "application/octet-stream"
                response = web.Response(body=body, content_type=kind)
        log.write(f'{time.time():.3f} {response.status} "{request.path_qs}"\n')
        return response

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"PORT {runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
