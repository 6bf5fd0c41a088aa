"""Our own faults, told from the page's: the design rule of how a crawl stops.

Design rule: our own faults (disk, descriptors, memory, a locked database, a missing or broken
data dir) stop the crawl *resumably* — `interrupted`, with the reason. They are never charged to a
page (it goes back to the queue untouched) and never end the session `failed`: `failed` is kept
for what the user must know is final (the start URL failed, nothing could be fetched). The
crawler and the manager decide with `is_our_fault`; `describe_fault` is the one line they record.
"""

from __future__ import annotations

import errno
import os

from ..domain.errors import StorageUnavailable
from .page_types import ParseWorkerUnavailable

# Errors of our own machine, not of the page. The disk: full, quota, EFBIG (what RLIMIT_FSIZE
# gives), I/O error, read-only, permissions. The data dir changed under us: ENOENT/ENOTDIR (blobs/
# deleted, or replaced by a file). Our resource limits: EMFILE/ENFILE (descriptors), ENOMEM.
_OUR_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EIO,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EMFILE,
        errno.ENFILE,
        errno.ENOMEM,
    }
)


def is_our_fault(exc: BaseException) -> bool:
    """True when `exc` is a fault of this machine, not of the page or the site (see the module
    doc). Such a fault would hit every page after this one too, so carrying on would only fail
    more pages. Only errors raised while *we* store or process a page reach this: network errors
    are FetchErrors, classified by the fetcher (but see `is_resource_exhaustion`).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageUnavailable | MemoryError | ParseWorkerUnavailable):
            return True
        if isinstance(current, OSError) and current.errno in _OUR_ERRNOS:
            return True
        if _no_thread(current):
            return True
        current = current.__cause__
    return False


def _no_thread(exc: BaseException) -> bool:
    # What threading (and so asyncio.to_thread) raises when the address space or the process
    # limit has no room for another thread's stack: memory, as far as the crawl is concerned.
    return isinstance(exc, RuntimeError) and "can't start new thread" in str(exc)


# Errnos that say a *request* failed for want of our resources, not because of the site.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_RESOURCE_TEXTS = tuple(os.strerror(code) for code in sorted(_RESOURCE_ERRNOS))


def is_resource_exhaustion(exc: BaseException) -> bool:
    """True when a fetch failed because we ran out of descriptors or memory.

    The fetcher reports such a failure as a connect error; it is our fault (the same rule as
    `is_our_fault`), so the crawler must not charge it to the page as a failed attempt.
    """
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, MemoryError):
            return True
        if isinstance(current, OSError) and current.errno in _RESOURCE_ERRNOS:
            return True
        if any(text in str(current) for text in _RESOURCE_TEXTS):
            # The fetcher's errors do not always keep their cause; the system's own wording
            # of these errnos (strerror) is what survives in the message.
            return True
        for linked in (current.__cause__, current.__context__, getattr(current, "os_error", None)):
            if isinstance(linked, BaseException):
                todo.append(linked)
    return False


def describe_fault(exc: BaseException) -> str:
    """One line for an error of ours: what happened and what the user can do about it."""
    text = (str(exc) or type(exc).__name__).splitlines()[0][:300]
    if isinstance(exc, StorageUnavailable | ParseWorkerUnavailable):
        return text  # already says which file and what to do
    if (
        isinstance(exc, MemoryError)
        or _no_thread(exc)
        or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM)
    ):
        return f"out of memory ({text}); resume with a lower --concurrency"
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return f"too many open files ({text}); raise `ulimit -n` or lower --concurrency"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"the data dir is damaged or changed under the crawl ({text}); resume once repaired"
    return f"cannot write to the data dir: {text} (is the disk full?)"
