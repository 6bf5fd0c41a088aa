"""Content-addressed blob files: data_dir/blobs/<first 2 hex>/<sha256 hex>.

Synchronous on purpose: called from worker threads and from the fetch worker processes, which must
not open the database. The name is always the hash of the original bytes, never anything a URL or
a server chose, so no stored name can escape the data dir (T16).

A file holds the original bytes raw, or compressed: zstd (level 1) when written now, zlib
(level 1) when written by earlier versions. Reading tells the three apart by content, never by a
flag: the raw bytes hash to the name, a zstd frame starts with its magic number, anything else
is tried as zlib; whatever decodes must hash to the name, or the blob is damaged.

The write path is what a fetch worker spends its time on, so it works on `str` paths with `os`
calls, resolves the data dir once per process and proves each shard directory once per process
(the name inside a shard is a hex digest we computed: it cannot point anywhere else). Paths that
come from outside (rows read back, `read_blob`, `verify`) get the full proof every time.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import fcntl
import functools
import hashlib
import itertools
import os
import re
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import zstandard

from ...domain.errors import ScraperError
from ...paths import FILE_MODE, mkdir_private

BLOBS_DIRNAME = "blobs"

_TMP_PREFIX = ".tmp-"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EMPTY_SHA = hashlib.sha256(b"").hexdigest()
_REL_RE = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{64})$")
# A tmp file whose writer pid is gone is garbage at once; this bounds a pid that was reused.
_TMP_MAX_AGE_S = 24 * 3600
# Directories (str, resolved) this process has made or proven: one mkdir each, not two per blob.
_KNOWN_DIRS: set[str] = set()
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted where a blob should be must not hang the writer on open.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
# O_EXCL already makes a clash harmless (it fails, we take the next number); a clash needs a
# leftover tmp of a dead writer that had our pid, so a few tries are plenty.
_TMP_TRIES = 16

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Level 1: HTML shrinks a little better than with zlib level 1, at about 40 % of its cost;
# levels 2-3 gain under 2 % of size for 10-30 % more time (benchmarks/bench_blobs.py).
ZSTD_LEVEL = 1
# What our level-1 frames need is far below this; a damaged header asking for more is refused
# instead of making us allocate it (libzstd's own default limit is 128 MiB).
_ZSTD_MAX_WINDOW = 8 * 1024 * 1024


class BlobError(ScraperError):
    """A blob path is malformed, missing, or its contents do not match its name."""


class _Codecs(threading.local):
    """One zstd compressor and decompressor per thread: each holds a native context that is
    costly to build and must not be used by two threads at once (downloads are written from
    `asyncio.to_thread`, pages from the fetch workers)."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self.decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)


_CODECS = _Codecs()


def zstd_compressor() -> zstandard.ZstdCompressor:
    """This thread's compressor (what new blobs are written with)."""
    return _CODECS.compressor


class _Pid:
    """os.getpid() without a system call per blob; refreshed in a forked child."""

    value = os.getpid()

    @classmethod
    def refresh(cls) -> None:
        cls.value = os.getpid()


os.register_at_fork(after_in_child=_Pid.refresh)
# Tmp names need only be unique among this process's writers (the pid separates processes);
# next() on a count is atomic under the GIL, so threads never share a number.
_TMP_SERIAL = itertools.count()


def write_blob(
    data_dir: Path | str, data: bytes, *, compress: bool = True, sync: bool = True
) -> tuple[str, str]:
    """Store `data` below `data_dir`/blobs; return (sha256 hex of `data`, "blobs/ab/<sha>").

    Order (ALICE, OSDI'14): tmp (O_EXCL, 0600) → fsync → os.replace → fsync(dir). Only after this
    returns may a row naming the blob commit. Idempotent: an existing blob that holds the right
    bytes is left as it is; one that does not (truncated, corrupted) is written again.
    sync=False leaves both fsyncs to one `sync_data_dir` call per batch, which the checkpoint
    makes before the COMMIT that names these blobs (an fsync per page capped a crawl at the
    disk's fsync rate: ~50 pages/s on this VM).
    """
    return _write(_base(os.fspath(data_dir)), data, compress, sync)


def _write(base: str, data: bytes, compress: bool, sync: bool) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    relative = f"{BLOBS_DIRNAME}/{sha[:2]}/{sha}"
    shard = f"{base}/{relative[:8]}"
    target = f"{shard}/{sha}"
    # A shard made just now is empty: nothing in it to check (another process storing the same
    # bytes in the same instant would only make the replace below swap equal contents).
    made_now = shard not in _KNOWN_DIRS and _open_shard(base, shard, sync)
    if not made_now and _holds(target, sha):
        return sha, relative
    # Missing, or there but wrong (truncated, zeroed, half-written by a dying disk): write it
    # (again). os.replace swaps the bad file atomically, so no reader ever sees a partial one.
    payload = data
    if compress:
        packed = _CODECS.compressor.compress(data)
        # Already-compressed media does not shrink: keep it raw; reading tells the two apart.
        if len(packed) < len(data):
            payload = packed
    fd, tmp = _create_tmp(base, shard, sha)
    try:
        try:
            written = os.write(fd, payload)
            if written < len(payload):
                view = memoryview(payload)[written:]
                while view:
                    view = view[os.write(fd, view) :]
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


def _create_tmp(base: str, shard: str, sha: str) -> tuple[int, str]:
    prefix = f"{shard}/{_TMP_PREFIX}{sha[:16]}-{_Pid.value}-"
    for _ in range(_TMP_TRIES):
        tmp = f"{prefix}{next(_TMP_SERIAL):08x}"
        try:
            return os.open(tmp, _TMP_FLAGS, FILE_MODE), tmp
        except FileExistsError:
            continue  # a dead writer's leftover with our pid: take the next number
        except OSError:
            # blobs/ or the shard was removed (or replaced) since we made it: forget that we
            # did, so a resumed crawl in this process makes it again. The error itself is ours
            # to report (a storage fault), not the page's.
            _KNOWN_DIRS.discard(shard)
            _KNOWN_DIRS.discard(f"{base}/{BLOBS_DIRNAME}")
            raise
    raise FileExistsError(f"{shard}: no free tmp name after {_TMP_TRIES} tries")


def _open_shard(base: str, shard: str, sync: bool) -> bool:
    """Make blobs/ and the shard (0700) where missing, and prove that both are what their names
    say: a symlink leading elsewhere would take every blob written through it there. Once per
    directory per process; True when the shard was made by this call (so it is empty)."""
    blobs_dir = f"{base}/{BLOBS_DIRNAME}"
    try:
        if blobs_dir not in _KNOWN_DIRS:
            if _make_dir(blobs_dir, base, sync=sync):
                spread_subdirectories(blobs_dir)
            if os.path.realpath(blobs_dir) != blobs_dir:
                raise BlobError(f"{blobs_dir} resolves outside {base}")
            _KNOWN_DIRS.add(blobs_dir)
        made = _make_dir(shard, blobs_dir, sync=sync)
    except OSError:
        _KNOWN_DIRS.discard(blobs_dir)  # removed or replaced: make (and prove) it again
        raise
    # One we just made is a directory in blobs/; one that was there may be a symlink.
    if not made and not os.path.realpath(shard).startswith(f"{blobs_dir}/"):
        raise BlobError(f"{shard} resolves outside {blobs_dir}")
    _KNOWN_DIRS.add(shard)
    return made


# Linux's FS_IOC_GETFLAGS / FS_IOC_SETFLAGS (as numbered on 64-bit; elsewhere they fail
# harmlessly with ENOTTY) and FS_TOPDIR_FL (`chattr +T`).
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000
_HAS_FS_FLAGS = sys.platform == "linux"


def spread_subdirectories(directory: str) -> bool:
    """Ask the file system to place `directory`'s subdirectories apart (`chattr +T`); True if it
    took the hint.

    ext4 puts a new directory's inode, and then the files made in it, in its parent's block
    group. All 256 shards would share one group, the one around the data dir, where whatever
    else is created and deleted there (other data dirs, temp files) leaves freed inodes that a
    file system without a journal walks past one by one before it may reuse them: making each
    blob file then costs several times what it costs in a quiet group. With the flag the
    allocator spreads the shards over the groups with the most free inodes. A hint only: file
    systems without it (tmpfs, btrfs, ...) refuse it and nothing else changes.
    """
    if not _HAS_FS_FLAGS:
        return False
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        if flags[0] & _FS_TOPDIR_FL:
            return True
        flags[0] |= _FS_TOPDIR_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags, True)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _holds(target: str, sha: str) -> bool:
    """True when `target` holds the blob named `sha` (raw, zstd- or zlib-compressed).

    Checked before trusting an existing blob: an empty file is rejected by its size alone; any
    other is read and hashed, which costs about what writing it again would (a page is tens of
    KB) and happens only when the same content is stored twice. A symlink is never followed:
    it is replaced by the file itself.
    """
    try:
        fd = os.open(target, _READ_FLAGS)
    except OSError:
        return False
    try:
        with open(fd, "rb", closefd=True) as file:
            if os.fstat(fd).st_size == 0:
                return sha == _EMPTY_SHA
            raw = file.read()
    except OSError:
        return False
    return _decoded(raw, sha) is not None


def _decoded(raw: bytes, sha: str) -> bytes | None:
    """The original bytes of a blob file's contents, or None when they are not the blob `sha`.

    The raw hash is tried first: a raw download may itself be a zstd or zlib file, and is then
    never decompressed."""
    if hashlib.sha256(raw).hexdigest() == sha:
        return raw
    if raw[:4] == ZSTD_MAGIC:
        data = _zstd_decompress(raw)
    else:
        try:
            data = zlib.decompress(raw)  # written by versions before zstd
        except zlib.error:
            return None
    if data is None or hashlib.sha256(data).hexdigest() != sha:
        return None
    return data


def _zstd_decompress(raw: bytes) -> bytes | None:
    """One whole zstd frame, nothing after it; None when damaged. Streamed, so a damaged
    header that claims a huge size allocates only what the frame really decodes to."""
    stream = _CODECS.decompressor.decompressobj()
    try:
        data = stream.decompress(raw)
    except zstandard.ZstdError:
        return None
    if not stream.eof or stream.unused_data:
        return None
    return data


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
    # The process's own symbols (None), which hold libc's: ctypes.util.find_library would run
    # `ldconfig -p` in a subprocess at import, in every process that imports this module.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_LIBC_SYNCFS = _load_syncfs()


def read_blob(data_dir: Path | str, relative_path: str) -> bytes:
    """The original bytes of a stored blob (decompressed when it was stored compressed)."""
    path = _inside(Path(data_dir), relative_path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BlobError(f"blob {relative_path} is missing") from None
    data = _decoded(raw, path.name)
    if data is None:
        raise BlobError(f"blob {relative_path} is corrupt or does not match its hash")
    return data


class BlobStore:
    """The blob directory of one data dir; every method is synchronous and thread-safe."""

    def __init__(self, blobs_dir: Path) -> None:
        self.blobs_dir = Path(blobs_dir)  # data_dir / "blobs": what gc_tmp walks
        self._data_dir = os.fspath(self.blobs_dir.parent)  # as given; resolved per process

    @property
    def data_dir(self) -> Path:
        """The directory the stored paths ("blobs/ab/<sha>") are relative to."""
        return self.blobs_dir.parent

    def write(self, data: bytes, *, compress: bool = True, sync: bool = True) -> tuple[str, str]:
        """See write_blob. Picklable (a path): the fetch workers are handed this to write with."""
        return _write(_base(self._data_dir), data, compress, sync)

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


@functools.lru_cache(maxsize=16)
def _base(data_dir: str) -> str:
    """The data dir, resolved once per process: the one symlink walk a write path needs."""
    return os.path.realpath(data_dir)


def _make_dir(path: str, parent: str, *, sync: bool = True) -> bool:
    if not mkdir_private(Path(path)):
        return False
    # The new directory entry must be durable before a file inside it can be.
    if sync:
        _fsync_dir(parent)
    return True


def _fsync_dir(path: str | Path) -> None:
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
