"""Stored content written from other processes (the fetch workers): the writer pickles to its
URL, opens its own connection per process and a new one after a fork."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle

from tui_scraper.backends.postgres import BlobWriter, Store

from .helpers import sql


def _write_in_child(writer: BlobWriter, body: bytes) -> tuple[str, str]:
    return writer.write(body, sync=False)


async def test_blobs_written_in_child_processes_are_read_back_by_the_store(pg_url: str) -> None:
    store = await Store.open(pg_url)
    try:
        writer = pickle.loads(pickle.dumps(store.blobs))
        bodies = [f"<html>page {i}</html>".encode() * 50 for i in range(4)]
        context = multiprocessing.get_context("forkserver")
        with context.Pool(2) as pool:
            written = pool.starmap(_write_in_child, [(writer, body) for body in bodies])
        for body, (sha, rel) in zip(bodies, written, strict=True):
            assert sha == hashlib.sha256(body).hexdigest()
            assert store.blobs.read(rel) == body
        rows = sql(pg_url, "SELECT codec, octet_length(data), size FROM downloaded_content")
        assert len(rows) == 4
        assert all(codec == "zstd" and stored < size for codec, stored, size in rows)
    finally:
        await store.close()


async def test_a_forked_child_opens_its_own_connection(pg_url: str) -> None:
    store = await Store.open(pg_url)
    try:
        store.blobs.write(b"before the fork")  # the parent's connection is open now
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: must not use the parent's connection
            try:
                sha, _rel = store.blobs.write(b"from the child")
                os.write(write, sha.encode())
            finally:
                os._exit(0)
        os.close(write)
        sha = os.read(read, 100).decode()
        os.close(read)
        os.waitpid(pid, 0)
        assert sha == hashlib.sha256(b"from the child").hexdigest()
        assert store.blobs.read(f"blobs/{sha[:2]}/{sha}") == b"from the child"
        assert store.blobs.write(b"after the fork")[0]  # the parent's still works
    finally:
        await store.close()
