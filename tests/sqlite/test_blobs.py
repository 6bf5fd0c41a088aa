"""Blob store: content addressing, durability order (T03), idempotence, safety."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import zstandard

from tui_scraper.backends.sqlite import BlobError, BlobStore, Store, read_blob, write_blob
from tui_scraper.backends.sqlite import blobs as blobs_module
from tui_scraper.domain import PageResult, PageStatus, Progress, Status

from .helpers import config


def test_write_read_compressed_and_raw(tmp_path: Path) -> None:
    text = b"<html>" + b"hello " * 1000
    sha, rel = write_blob(tmp_path, text)
    assert sha == hashlib.sha256(text).hexdigest()
    assert rel == f"blobs/{sha[:2]}/{sha}"
    stored = (tmp_path / rel).read_bytes()
    assert zstandard.decompress(stored) == text and len(stored) < len(text)
    assert read_blob(tmp_path, rel) == text
    noise = os.urandom(5000)
    sha2, rel2 = write_blob(tmp_path, noise, compress=True)  # incompressible: kept raw
    assert (tmp_path / rel2).read_bytes() == noise and read_blob(tmp_path, rel2) == noise
    sha3, rel3 = write_blob(tmp_path, b"abc" * 100, compress=False)
    assert (tmp_path / rel3).read_bytes() == b"abc" * 100
    store = BlobStore(tmp_path / "blobs")
    assert store.read(rel) == text
    assert store.verify(rel, sha) and store.verify(rel3, sha3)
    assert not store.verify(rel, sha2)


def test_write_is_idempotent(tmp_path: Path) -> None:
    sha, rel = write_blob(tmp_path, b"same")
    mtime = (tmp_path / rel).stat().st_mtime_ns
    assert write_blob(tmp_path, b"same") == (sha, rel)
    assert (tmp_path / rel).stat().st_mtime_ns == mtime
    assert [p.name for p in (tmp_path / rel).parent.iterdir()] == [sha]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_blob_is_written_again(tmp_path: Path, damage: str) -> None:
    """An existing blob is verified before it is trusted: a later session (or a resumed page)
    storing the same content repairs it instead of pointing at the bad file."""
    data = b"<html>" + b"same content, stored twice " * 200
    sha, rel = write_blob(tmp_path, data)
    path = tmp_path / rel
    if damage == "truncated":
        os.truncate(path, 0)
    else:
        path.write_bytes(b"\x00" * 40)
    with pytest.raises(BlobError):
        read_blob(tmp_path, rel)
    assert write_blob(tmp_path, data) == (sha, rel)
    assert read_blob(tmp_path, rel) == data


def test_corrupt_missing_and_hostile_paths(tmp_path: Path) -> None:
    sha, rel = write_blob(tmp_path, b"payload" * 50)
    store = BlobStore(tmp_path / "blobs")
    (tmp_path / rel).write_bytes(b"garbage")
    with pytest.raises(BlobError):
        store.read(rel)
    assert not store.verify(rel, sha)
    (tmp_path / rel).unlink()
    with pytest.raises(BlobError):
        store.read(rel)
    for bad in [
        "../etc/passwd",
        "blobs/../../x",
        f"blobs/zz/{sha}",
        f"/blobs/{sha[:2]}/{sha}",
        f"blobs/{sha[:2]}/{sha}/..",
        "blobs/ab/" + "A" * 64,
    ]:
        with pytest.raises(BlobError):
            read_blob(tmp_path, bad)
        assert not store.verify(bad, sha)


def test_symlinked_shard_cannot_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tmp_path / "data"
    (data / "blobs").mkdir(parents=True)
    sha = hashlib.sha256(b"x").hexdigest()
    (data / "blobs" / sha[:2]).symlink_to(outside)
    with pytest.raises(BlobError):
        write_blob(data, b"x")
    assert list(outside.iterdir()) == []


def test_gc_tmp_removes_only_dead_writers(tmp_path: Path) -> None:
    write_blob(tmp_path, b"x")
    shard = next((tmp_path / "blobs").iterdir())
    dead = shard / ".tmp-abcdef-999999999-00000000"
    mine = shard / f".tmp-abcdef-{os.getpid()}-00000000"
    dead.write_bytes(b"half")
    mine.write_bytes(b"half")
    assert BlobStore(tmp_path / "blobs").gc_tmp() == 1
    assert not dead.exists() and mine.exists()
    assert BlobStore(tmp_path / "nothing").gc_tmp() == 0


def test_failed_write_leaves_no_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs_module.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_blob(tmp_path, b"data" * 10)
    monkeypatch.undo()
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


async def test_durability_order_blob_then_row(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """T03: fsync(tmp) → replace → fsync(dir) → COMMIT of the rows naming the blob; FULL sync."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(("replace", f"{os.fspath(src)} -> {os.fspath(dst)}"))
        real_replace(src, dst)

    store = await Store.open(data_dir)
    try:
        assert await store._db.run(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2
        await store._db.run(lambda c: c.set_trace_callback(lambda sql: calls.append(("sql", sql))))
        record = await store.create_session(config(), who="t")
        await store.transition(record.id, Status.RUNNING, reason="go", who="t")
        [seed] = await store.claim_batch(record.id, 1, now=0)
        calls.clear()
        monkeypatch.setattr(blobs_module.os, "fsync", fsync)
        monkeypatch.setattr(blobs_module.os, "replace", replace)
        sha, rel = store.blobs.write(b"<html>page</html>" * 20)
        monkeypatch.undo()
        result = PageResult(
            page_id=seed.id,
            url=seed.url,
            status=PageStatus.DONE,
            attempts=1,
            content_hash=sha,
            storage_path=rel,
        )
        await store.checkpoint(record.id, [result], Progress(), heartbeat=1)
    finally:
        await store.close()
    kinds = [
        (kind, detail)
        for kind, detail in calls
        if kind != "sql" or "COMMIT" in detail or "UPDATE pages" in detail
    ]
    target = str((data_dir / rel).resolve())
    # A new shard directory is made durable in its parent first.
    while kinds[0][0] == "fsync" and "/.tmp-" not in kinds[0][1]:
        assert kinds.pop(0)[1] in (str(data_dir.resolve() / "blobs"), str(data_dir.resolve()))
    assert kinds[0][0] == "fsync" and "/.tmp-" in kinds[0][1]
    assert kinds[1][0] == "replace" and kinds[1][1].endswith(f"-> {target}")
    assert kinds[2] == ("fsync", str(Path(target).parent))
    sql_after = [detail for _, detail in kinds[3:]]
    assert any("UPDATE pages" in s for s in sql_after) and sql_after[-1] == "COMMIT"
