"""Blob files since zstd: what new writes store, that every earlier format still reads back, that
damage is caught, and that the cheap write path keeps the guarantees of the careful one."""

from __future__ import annotations

import array
import errno
import fcntl
import hashlib
import itertools
import os
import shutil
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from tui_scraper.backends.sqlite import BlobError, BlobStore, read_blob, write_blob
from tui_scraper.backends.sqlite import blobs as blobs_module

PAGE = b"<html><head><title>t</title></head><body>" + b"<p>some text here</p>\n" * 800
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def page(number: int) -> bytes:
    return PAGE + f"<p>page {number}</p></body></html>".encode()


def stored_bytes(data_dir: Path, relative: str) -> bytes:
    return (data_dir / relative).read_bytes()


def plant(data_dir: Path, data: bytes, contents: bytes) -> str:
    """Put `contents` where the blob of `data` lives, as an earlier version (or damage) left it."""
    sha = hashlib.sha256(data).hexdigest()
    shard = data_dir / "blobs" / sha[:2]
    shard.mkdir(parents=True, exist_ok=True)
    (shard / sha).write_bytes(contents)
    return f"blobs/{sha[:2]}/{sha}"


# --- zstd: what is written now -----------------------------------------------------------------


def test_a_page_is_stored_as_one_zstd_frame_and_reads_back(tmp_path: Path) -> None:
    sha, rel = write_blob(tmp_path, PAGE, sync=False)
    stored = stored_bytes(tmp_path, rel)
    assert stored[:4] == ZSTD_MAGIC and len(stored) < len(PAGE) // 4
    assert zstandard.ZstdDecompressor().decompress(stored) == PAGE
    assert read_blob(tmp_path, rel) == PAGE
    store = BlobStore(tmp_path / "blobs")
    assert store.read(rel) == PAGE and store.verify(rel, sha)
    mtime = (tmp_path / rel).stat().st_mtime_ns
    assert store.write(PAGE) == (sha, rel)  # already there and intact: left alone
    assert (tmp_path / rel).stat().st_mtime_ns == mtime


def test_compressor_shrinks_html_at_least_as_well_as_zlib_level_1(tmp_path: Path) -> None:
    """The level was chosen so: stored pages must not grow for the speed."""
    bodies = [page(n) + os.urandom(64).hex().encode() * (n % 7) for n in range(40)]
    stored = sum(len(stored_bytes(tmp_path, write_blob(tmp_path, b)[1])) for b in bodies)
    assert stored <= sum(len(zlib.compress(b, 1)) for b in bodies)


def test_each_thread_has_its_own_codec_and_parallel_writes_are_exact(tmp_path: Path) -> None:
    """zstd contexts are not thread-safe: one per thread (downloads come from to_thread)."""
    seen: list[object] = []
    results: dict[int, tuple[str, str]] = {}
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            seen.append(blobs_module.zstd_compressor())
            assert blobs_module.zstd_compressor() is seen[-1]  # reused, not made per write
            for n in range(offset, 400, 4):
                results[n] = write_blob(tmp_path, page(n), sync=False)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(compressor) for compressor in seen}) == 4
    assert sorted(results) == list(range(400))
    for n, (sha, rel) in results.items():
        assert read_blob(tmp_path, rel) == page(n) and sha == hashlib.sha256(page(n)).hexdigest()


# --- earlier formats keep reading ----------------------------------------------------------


@pytest.mark.parametrize(
    "how", ["zlib level 1", "raw"], ids=["zlib-blob-of-earlier-versions", "raw-blob"]
)
def test_blobs_written_by_earlier_versions_read_back_and_are_trusted(
    tmp_path: Path, how: str
) -> None:
    contents = zlib.compress(PAGE, 1) if how == "zlib level 1" else PAGE
    rel = plant(tmp_path, PAGE, contents)
    sha = rel.rsplit("/", 1)[1]
    assert read_blob(tmp_path, rel) == PAGE
    store = BlobStore(tmp_path / "blobs")
    assert store.verify(rel, sha)
    # Storing the same page again keeps the old file: it holds the right bytes.
    assert write_blob(tmp_path, PAGE) == (sha, rel)
    assert stored_bytes(tmp_path, rel) == contents


def test_a_raw_download_that_is_itself_a_zstd_file_reads_back_as_it_came(tmp_path: Path) -> None:
    archive = zstandard.ZstdCompressor(level=3).compress(PAGE)  # a .zst somebody serves
    sha, rel = write_blob(tmp_path, archive, compress=False, sync=False)
    assert sha == hashlib.sha256(archive).hexdigest()
    assert stored_bytes(tmp_path, rel) == archive
    assert read_blob(tmp_path, rel) == archive
    assert BlobStore(tmp_path / "blobs").verify(rel, sha)
    mtime = (tmp_path / rel).stat().st_mtime_ns
    assert write_blob(tmp_path, archive, compress=False) == (sha, rel)
    assert (tmp_path / rel).stat().st_mtime_ns == mtime


# --- damage ----------------------------------------------------------------------------------


def _flip_middle(frame: bytes) -> bytes:
    damaged = bytearray(frame)
    damaged[len(frame) // 2] ^= 0x5A
    return bytes(damaged)


def _huge_declared_size(frame: bytes) -> bytes:
    """The same blocks behind a header that declares 1 TiB of content (a dying disk's bits)."""
    descriptor = frame[4]
    fcs_code, single_segment, dict_code = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_code]
    header_size = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_code] + fcs_size
    window_descriptor = bytes([(17 - 10) << 3])  # 128 KiB: enough for these blocks
    return (
        ZSTD_MAGIC
        + bytes([3 << 6])
        + window_descriptor
        + struct.pack("<Q", 1 << 40)
        + (frame[header_size:])
    )


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda frame: frame[: len(frame) // 2],
    "flipped byte": _flip_middle,
    "bytes after the frame": lambda frame: frame + b"tail",
    "two frames": lambda frame: frame + frame,
    "header only": lambda frame: frame[:6],
    "huge declared size": _huge_declared_size,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_zstd_blob_is_never_trusted_and_is_rewritten(tmp_path: Path, damage: str) -> None:
    sha, rel = write_blob(tmp_path, PAGE, sync=False)
    damaged = DAMAGE[damage](stored_bytes(tmp_path, rel))
    assert damaged[:4] == ZSTD_MAGIC
    (tmp_path / rel).write_bytes(damaged)
    store = BlobStore(tmp_path / "blobs")
    assert not store.verify(rel, sha)
    with pytest.raises(BlobError):
        read_blob(tmp_path, rel)
    assert write_blob(tmp_path, PAGE) == (sha, rel)  # the next store of it repairs the file
    assert stored_bytes(tmp_path, rel) != damaged and read_blob(tmp_path, rel) == PAGE


def test_a_zstd_frame_of_other_bytes_under_a_name_is_refused(tmp_path: Path) -> None:
    rel = plant(tmp_path, PAGE, zstandard.ZstdCompressor().compress(b"<html>another page"))
    with pytest.raises(BlobError):
        read_blob(tmp_path, rel)
    assert not BlobStore(tmp_path / "blobs").verify(rel, rel.rsplit("/", 1)[1])
    write_blob(tmp_path, PAGE)
    assert read_blob(tmp_path, rel) == PAGE


# --- the cheap write path ------------------------------------------------------------------


def _count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[object]:
    calls: list[object] = []
    real = getattr(owner, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_writes_resolve_each_directory_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Path.resolve()/realpath per page: the data dir is resolved once, blobs/ and each shard
    proven once; writing again into shards already proven walks no symlinks at all."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    resolves = _count_calls(monkeypatch, Path, "resolve")
    realpaths = _count_calls(monkeypatch, blobs_module.os.path, "realpath")
    mkdirs = _count_calls(monkeypatch, blobs_module.os, "mkdir")
    store = BlobStore(data_dir / "blobs")
    written = [store.write(page(n), sync=False) for n in range(600)]
    shards = {rel.split("/")[1] for _, rel in written}
    assert resolves == []
    # The data dir, blobs/, and each shard that already existed when first used (none here).
    assert len(realpaths) <= 2
    assert len(mkdirs) == 1 + len(shards)  # blobs/ once, not once per shard
    realpaths.clear()
    for n in range(600, 900):
        store.write(page(n), sync=False)
    assert resolves == [] and realpaths == []


@pytest.mark.parametrize("spelling", ["symlink", "relative", "dotdot", "str"])
def test_the_fast_path_accepts_every_way_of_naming_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        (tmp_path / "link").symlink_to(real)
        given: Path | str = tmp_path / "link"
    elif spelling == "relative":
        monkeypatch.chdir(tmp_path)
        given = Path("real")
    elif spelling == "dotdot":
        given = tmp_path / "sub" / ".." / "real"
    else:
        given = str(real)
    sha, rel = write_blob(given, PAGE)
    assert rel == f"blobs/{sha[:2]}/{sha}"
    assert read_blob(real, rel) == PAGE and read_blob(given, rel) == PAGE
    assert BlobStore(Path(given) / "blobs").write(page(1)) == write_blob(real, page(1))
    assert sorted(p.name for p in real.iterdir()) == ["blobs"]


def test_a_shard_symlinked_inside_blobs_is_still_accepted(tmp_path: Path) -> None:
    """What the careful proof accepted (it stays inside blobs/), the fast path accepts too."""
    sha = hashlib.sha256(PAGE).hexdigest()
    blobs = tmp_path / "blobs"
    (blobs / "elsewhere").mkdir(parents=True)
    (blobs / sha[:2]).symlink_to(blobs / "elsewhere")
    assert write_blob(tmp_path, PAGE) == (sha, f"blobs/{sha[:2]}/{sha}")
    assert (blobs / "elsewhere" / sha).is_file()


@pytest.mark.parametrize("where", ["blobs", "shard"])
def test_a_symlink_leading_out_of_blobs_is_refused_and_nothing_is_written(
    tmp_path: Path, where: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    sha = hashlib.sha256(PAGE).hexdigest()
    if where == "blobs":
        (data / "blobs").symlink_to(outside)
    else:
        (data / "blobs").mkdir()
        (data / "blobs" / sha[:2]).symlink_to(outside)
    for _ in range(2):  # refused every time, not just the first: nothing is remembered
        with pytest.raises(BlobError):
            write_blob(data, PAGE)
    assert list(outside.iterdir()) == []


def test_read_and_verify_keep_the_full_proof_for_stored_paths(tmp_path: Path) -> None:
    """A path read back from a row is proven each time: a shard that became a symlink to a
    copy outside is refused even though its file would hash right."""
    sha, rel = write_blob(tmp_path, PAGE)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    shard = tmp_path / "blobs" / sha[:2]
    (outside / sha).write_bytes(stored_bytes(tmp_path, rel))
    (shard / sha).unlink()
    shard.rmdir()
    shard.symlink_to(outside)
    with pytest.raises(BlobError, match="outside"):
        read_blob(tmp_path, rel)
    assert not BlobStore(tmp_path / "blobs").verify(rel, sha)


def test_a_target_that_is_a_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    _, rel = write_blob(tmp_path, PAGE)
    outside = tmp_path / "outside-file"
    outside.write_bytes(stored_bytes(tmp_path, rel))  # even one that holds the right bytes
    (tmp_path / rel).unlink()
    (tmp_path / rel).symlink_to(outside)
    write_blob(tmp_path, PAGE)
    assert not (tmp_path / rel).is_symlink() and read_blob(tmp_path, rel) == PAGE
    assert outside.read_bytes()[:4] == ZSTD_MAGIC  # untouched


def test_a_fifo_where_the_blob_should_be_does_not_hang_the_writer(tmp_path: Path) -> None:
    _, rel = write_blob(tmp_path, PAGE)
    (tmp_path / rel).unlink()
    os.mkfifo(tmp_path / rel)
    done: list[tuple[str, str]] = []
    writer = threading.Thread(target=lambda: done.append(write_blob(tmp_path, PAGE)), daemon=True)
    writer.start()
    writer.join(timeout=10)
    assert done and read_blob(tmp_path, rel) == PAGE and (tmp_path / rel).is_file()


def test_a_new_shard_is_written_without_checking_for_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard made by this call is empty: one open (the tmp file); a write into a shard made
    before first looks at the target (is it there, intact?): two."""
    first = hashlib.sha256(PAGE).hexdigest()
    same_shard = next(
        body
        for body in map(page, itertools.count())
        if hashlib.sha256(body).hexdigest()[:2] == first[:2]
    )
    opened = _count_calls(monkeypatch, blobs_module.os, "open")

    def files_opened(sha: str) -> list[str]:
        names = [os.path.basename(str(path)) for path in opened if sha[:16] in str(path)]
        return ["tmp" if name.startswith(".tmp-") else "target" for name in names]

    write_blob(tmp_path, PAGE, sync=False)
    assert files_opened(first) == ["tmp"]
    opened.clear()
    second, _ = write_blob(tmp_path, same_shard, sync=False)
    assert files_opened(second) == ["target", "tmp"]


def test_a_leftover_tmp_with_our_name_is_stepped_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tmp names are the pid and a counter (no random bytes per page); a dead writer's leftover
    of the same name makes O_EXCL fail, and the next number is taken."""
    write_blob(tmp_path, b"first")
    sha = hashlib.sha256(PAGE).hexdigest()
    shard = tmp_path / "blobs" / sha[:2]
    shard.mkdir(exist_ok=True)
    monkeypatch.setattr(blobs_module, "_TMP_SERIAL", itertools.count(40))
    for serial in (40, 41):
        (shard / f".tmp-{sha[:16]}-{os.getpid()}-{serial:08x}").write_bytes(b"half")
    assert write_blob(tmp_path, PAGE) == (sha, f"blobs/{sha[:2]}/{sha}")
    assert read_blob(tmp_path, f"blobs/{sha[:2]}/{sha}") == PAGE
    assert sorted(p.name for p in shard.iterdir() if p.name.startswith(".tmp-")) == [
        f".tmp-{sha[:16]}-{os.getpid()}-{serial:08x}" for serial in (40, 41)
    ]


def test_tmp_names_are_still_collected_by_gc(tmp_path: Path) -> None:
    sha = hashlib.sha256(PAGE).hexdigest()
    write_blob(tmp_path, PAGE)
    shard = tmp_path / "blobs" / sha[:2]
    name = f".tmp-{sha[:16]}-999999999-{next(blobs_module._TMP_SERIAL):08x}"
    (shard / name).write_bytes(b"half")
    assert BlobStore(tmp_path / "blobs").gc_tmp() == 1


def test_blobs_removed_under_a_writer_are_made_again(tmp_path: Path) -> None:
    """blobs/ deleted mid-crawl: that write fails (a storage fault); a later one in the same
    process makes blobs/ and the shard again instead of trusting what it remembered."""
    write_blob(tmp_path, page(1), sync=False)
    (tmp_path / "blobs").rename(tmp_path / "gone")
    with pytest.raises(OSError) as raised:
        write_blob(tmp_path, page(1), sync=False)
    assert raised.value.errno == errno.ENOENT
    _, rel = write_blob(tmp_path, page(1), sync=False)
    assert read_blob(tmp_path, rel) == page(1)


def _topdir_flag(path: Path) -> bool | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, blobs_module._FS_IOC_GETFLAGS, flags, True)
        return bool(flags[0] & blobs_module._FS_TOPDIR_FL)
    except OSError:
        return None
    finally:
        os.close(fd)


def test_new_blobs_dir_asks_for_its_shards_to_be_spread(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    if not blobs_module.spread_subdirectories(str(probe)):
        pytest.skip("this file system has no directory placement hint")
    data = tmp_path / "data"
    data.mkdir()
    write_blob(data, PAGE)
    assert _topdir_flag(data / "blobs") is True


def test_a_file_system_without_the_hint_still_stores(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no tmpfs to try")
    data = Path(tempfile.mkdtemp(dir=os.path.realpath(shm), prefix="tui-scraper-test-"))
    try:
        assert not blobs_module.spread_subdirectories(str(data))
        sha, rel = write_blob(data, PAGE)
        assert read_blob(data, rel) == PAGE and sha in rel
    finally:
        shutil.rmtree(data)
