"""How much concurrency this process's resource limits can serve.

A crawl that runs out of descriptors mid-way has to stop (our fault, see engine/faults.py);
one that starts with fewer workers than asked just runs slower. So the crawler asks here first.
"""

from __future__ import annotations

try:
    import resource
except ImportError:  # Windows: no RLIMIT_NOFILE to respect
    resource = None  # type: ignore[assignment]

# Descriptors a crawl holds whatever its concurrency: stdio, the database and its WAL and shm, the
# lease lock, the event loop's selector and self-pipe, the resolver's and to_thread's threads,
# the forkserver and its socket, headroom for a blob being written and a robots.txt fetch.
BASE_DESCRIPTORS = 40
# A fetch worker costs the crawl's process its two pipe ends and the two descriptors the
# forkserver start keeps for it (its status pipe and a copy of its data pipe).
PER_FETCH_WORKER = 4
# A request holds its socket, and at times a second descriptor (the blob it writes, a DNS query).
PER_REQUEST = 2


def open_files_limit() -> int | None:
    """The soft RLIMIT_NOFILE, or None when there is no limit to respect."""
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return int(soft)


def capped_concurrency(wanted: int, fetch_workers: int) -> tuple[int, int | None]:
    """(the concurrency the descriptor limit can serve, the limit); never below 1."""
    limit = open_files_limit()
    if limit is None:
        return wanted, None
    room = limit - BASE_DESCRIPTORS - PER_FETCH_WORKER * fetch_workers
    return max(1, min(wanted, room // PER_REQUEST)), limit
