"""Content-addressed blob files: data_dir/blobs/<first 2 hex>/<sha256 hex>.

Synchronous on purpose: called from worker threads and from the parse worker process, which must
not open the database. The name is always the hash of the original bytes, never anything a URL or
a server chose, so no stored name can escape the data dir (T16).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import hashlib
import os
import re
import secrets
import time
import zlib
from pathlib import Path
from typing import Any

from ...domain.errors import ScraperError
from ...paths import FILE_MODE, mkdir_private

BLOBS_DIRNAME = "blobs"

_TMP_PREFIX = ".tmp-"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EMPTY_SHA = hashlib.sha256(b"").hexdigest()
_REL_RE = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{64})$")
# A tmp file whose writer pid is gone is garbage at once; this bounds a pid that was reused.
_TMP_MAX_AGE_S = 24 * 3600
# Shard directories this process has made or seen: one mkdir each, not two per blob.
_KNOWN_DIRS: set[Path] = set()


class BlobError(ScraperError):
    """A blob path is malformed, missing, or its contents do not match its name."""


def write_blob(
    data_dir: Path, data: bytes, *, compress: bool = True, sync: bool = True
) -> tuple[str, str]:
    """Store `data` below `data_dir`/blobs; return (sha256 hex of `data`, "blobs/ab/<sha>").

    Order (ALICE, OSDI'14): tmp (O_EXCL, 0600) → fsync → os.replace → fsync(dir). Only after this
    returns may a row naming the blob commit. Idempotent: an existing blob that holds the right
    bytes is left as it is; one that does not (truncated, corrupted) is written again.
    sync=False leaves both fsyncs to one `sync_data_dir` call per batch, which the checkpoint
    makes before the COMMIT that names these blobs (an fsync per page capped a crawl at the
    disk's fsync rate: ~50 pages/s on this VM).
    """
    data_dir = Path(data_dir)
    sha = hashlib.sha256(data).hexdigest()
    relative = f"{BLOBS_DIRNAME}/{sha[:2]}/{sha}"
    target = _inside(data_dir, relative)
    if _holds(target, sha):
        return sha, relative
    # Missing, or there but wrong (truncated, zeroed, half-written by a dying disk): write it
    # (again). os.replace swaps the bad file atomically, so no reader ever sees a partial one.
    blobs_dir = data_dir / BLOBS_DIRNAME
    shard = target.parent
    if shard not in _KNOWN_DIRS:
        _make_dir(blobs_dir, data_dir, sync=sync)
        _make_dir(shard, blobs_dir, sync=sync)
        _KNOWN_DIRS.add(shard)
    payload = data
    if compress:
        # Level 1: HTML still shrinks ~4x, at a fifth of level 6's cost (2.2 ms for 34 KB here).
        packed = zlib.compress(data, 1)
        # Already-compressed media does not shrink: keep it raw; read() tells the two apart by hash.
        if len(packed) < len(data):
            payload = packed
    tmp = shard / f"{_TMP_PREFIX}{sha[:16]}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except OSError:
        # blobs/ or the shard was removed (or replaced) since we made it: forget that we did,
        # so a resumed crawl in this process makes it again. The error itself is ours to report
        # (a storage fault), not the page's.
        _KNOWN_DIRS.discard(shard)
        raise
    try:
        try:
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync:
        _fsync_dir(shard)
    return sha, relative


def _holds(path: Path, sha: str) -> bool:
    """True when `path` holds the blob named `sha` (raw or zlib-compressed).

    Checked before trusting an existing blob: an empty file is rejected by its size alone; any
    other is read and hashed, which costs about what writing it again would (a page is tens of
    KB) and happens only when the same content is stored twice.
    """
    try:
        if path.stat().st_size == 0:
            return sha == _EMPTY_SHA
        raw = path.read_bytes()
    except OSError:
        return False
    return _matches(raw, sha)


def _matches(raw: bytes, sha: str) -> bool:
    if hashlib.sha256(raw).hexdigest() == sha:
        return True
    try:
        return hashlib.sha256(zlib.decompress(raw)).hexdigest() == sha
    except zlib.error:
        return False


def blob_present(data_dir: Path, relative_path: str) -> bool:
    """True when the blob file exists (a stat: the checkpoint asks this for every row it names)."""
    # The pattern admits only "blobs/xx/<sha>", so no resolve() is needed to stay inside.
    if _REL_RE.match(relative_path) is None:
        return False
    return os.path.isfile(os.path.join(data_dir, relative_path))


def blob_looks_intact(data_dir: Path, relative_path: str, original_size: int | None) -> bool:
    """A stat's worth of checking: the file exists, and is not empty unless the content was.
    Catches a deleted blobs/ or shard and a truncated file without reading anything."""
    if _REL_RE.match(relative_path) is None:
        return False
    try:
        size = os.stat(os.path.join(data_dir, relative_path)).st_size
    except OSError:
        return False
    return size > 0 or not original_size


def sync_data_dir(data_dir: Path) -> None:
    """Make every blob written with sync=False durable (contents and directory entries).

    syncfs(2) flushes just the file system holding the data dir, in one call; where it is not
    available, sync(2) flushes all of them.
    """
    fd = os.open(Path(data_dir), os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _LIBC_SYNCFS is None or _LIBC_SYNCFS(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _load_syncfs() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_LIBC_SYNCFS = _load_syncfs()


def read_blob(data_dir: Path, relative_path: str) -> bytes:
    """The original bytes of a stored blob (decompressed when it was stored compressed)."""
    path = _inside(Path(data_dir), relative_path)
    sha = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BlobError(f"blob {relative_path} is missing") from None
    if hashlib.sha256(raw).hexdigest() == sha:
        return raw
    try:
        data = zlib.decompress(raw)
    except zlib.error:
        raise BlobError(f"blob {relative_path} is corrupt") from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise BlobError(f"blob {relative_path} does not match its hash")
    return data


class BlobStore:
    """The blob directory of one data dir; every method is synchronous and thread-safe."""

    def __init__(self, blobs_dir: Path) -> None:
        self.blobs_dir = Path(blobs_dir)  # data_dir / "blobs": what gc_tmp walks

    @property
    def data_dir(self) -> Path:
        """The directory the stored paths ("blobs/ab/<sha>") are relative to."""
        return self.blobs_dir.parent

    def write(self, data: bytes, *, compress: bool = True, sync: bool = True) -> tuple[str, str]:
        """See write_blob. Picklable (a path): the parse workers are handed this to write with."""
        return write_blob(self.data_dir, data, compress=compress, sync=sync)

    def read(self, relative_path: str) -> bytes:
        return read_blob(self.data_dir, relative_path)

    def verify(self, relative_path: str, sha256: str) -> bool:
        """True when the blob exists and holds bytes whose hash is `sha256` (and its name)."""
        match = _REL_RE.match(relative_path)
        if match is None or match.group(2) != sha256:
            return False
        try:
            self.read(relative_path)
        except (BlobError, OSError):
            return False
        return True

    def gc_tmp(self) -> int:
        """Remove tmp files left by writers that died (their pid is gone, or a day has passed)."""
        removed = 0
        if not self.blobs_dir.is_dir():
            return 0
        now = time.time()
        for shard in self.blobs_dir.iterdir():
            if not shard.is_dir() or shard.is_symlink():
                continue
            for entry in shard.iterdir():
                if not entry.name.startswith(_TMP_PREFIX):
                    continue
                if _writer_alive(entry.name) and now - _mtime(entry) < _TMP_MAX_AGE_S:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
        return removed


def _inside(data_dir: Path, relative_path: str) -> Path:
    """Resolve a blob path and prove it stays inside the data dir."""
    if _REL_RE.match(relative_path) is None:
        raise BlobError(f"{relative_path!r} is not a blob path")
    base = _resolved(data_dir)
    path = (base / relative_path).resolve()
    if not path.is_relative_to(base / BLOBS_DIRNAME):
        raise BlobError(f"{relative_path!r} resolves outside {base}")
    return path


@functools.lru_cache(maxsize=16)
def _resolved(data_dir: Path) -> Path:
    return data_dir.resolve()


def _make_dir(path: Path, parent: Path, *, sync: bool = True) -> None:
    if not mkdir_private(path):
        return
    # The new directory entry must be durable before a file inside it can be.
    if sync:
        _fsync_dir(parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _writer_alive(name: str) -> bool:
    parts = name[len(_TMP_PREFIX) :].split("-")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
