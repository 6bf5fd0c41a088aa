"""What the fetch workers' forkserver imports before it forks any of them (`child_processes`).

The forkserver imports this module last, after the modules it was told to preload besides
(the blob writer's, which the workers unpickle), and nothing else imports it. Everything here is
then shared by every fetch worker forked afterwards: a page of memory stays one page, split
between the processes in PSS, until one of them writes to it.

`gc.freeze()` is what keeps it so. A worker's full garbage collection would otherwise walk every
object it inherited and write into each one's header, copying nearly the whole inherited heap
into each worker; frozen objects are never walked. They are module-level objects that live as
long as the process, so nothing collectable is kept by freezing them.
"""

from __future__ import annotations

import contextlib
import encodings.idna  # noqa: F401  (host names: else imported at a worker's first request)
import gc
import os

# What a worker loads when it starts (`fetch_worker._Worker`) and the coordinator never does:
# the HTTP transport a worker's Fetcher builds (`fetch` imports it only then), the HTTP client
# and the parser. Without this every worker would import its own copy.
from . import (
    aiohttp_transport,  # noqa: F401
    fetch,  # noqa: F401  (httpx, aiohttp)
    fetch_worker,  # noqa: F401
    parse,  # noqa: F401  (selectolax, the extraction)
    tls,
)

# The CA bundle, loaded once here: every worker forked afterwards shares the context instead of
# each spending that CPU at its start.
tls.shared_ssl_context()

# The workers' event loop (fetch_worker._new_loop); not loaded when told not to use it.
if os.environ.get("TUI_SCRAPER_UVLOOP", "1") != "0":
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401

gc.collect()
gc.freeze()
