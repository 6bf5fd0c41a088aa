"""`assert_store_invariants`: what must hold for a data dir after any crash."""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from pathlib import Path

import zstandard

from tui_scraper.domain.status import ALLOWED_TRANSITIONS, Status


def connect_ro(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data_dir / 'scraper.db'}?mode=ro", uri=True)


def assert_store_invariants(data_dir: Path) -> None:
    db = connect_ro(data_dir)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        dupes = db.execute(
            "SELECT session_id, url, COUNT(*) FROM pages "
            "GROUP BY session_id, url HAVING COUNT(*) > 1"
        ).fetchall()
        assert dupes == []
        for path, digest in db.execute(
            "SELECT raw_html_storage_path, content_hash FROM pages "
            "WHERE status = 'done' AND raw_html_storage_path IS NOT NULL"
        ):
            blob = data_dir / path
            assert blob.is_file(), f"missing blob {path}"
            assert blob.name == digest
            raw = blob.read_bytes()
            try:
                if raw[:4] == b"\x28\xb5\x2f\xfd":  # a zstd frame (pages since zstd)
                    data = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
                else:
                    data = zlib.decompress(raw)  # pages written before zstd
            except (zlib.error, zstandard.ZstdError):
                data = raw  # downloads are stored as they came
            if hashlib.sha256(data).hexdigest() != digest:
                data = raw  # a download that is itself a zstd or zlib file
            assert hashlib.sha256(data).hexdigest() == digest, f"blob {path} does not match"
        for session_id, status in db.execute("SELECT id, status FROM sessions"):
            events = db.execute(
                "SELECT from_status, to_status FROM session_events "
                "WHERE session_id = ? AND to_status IS NOT NULL ORDER BY id",
                (session_id,),
            ).fetchall()
            current = Status.PENDING
            for from_status, to_status in events:
                assert from_status == current.value, (session_id, from_status, current)
                wanted = Status(to_status)
                assert wanted in ALLOWED_TRANSITIONS[current], (current, wanted)
                current = wanted
            assert current.value == status, (session_id, current, status)
    finally:
        db.close()


def page_states(data_dir: Path) -> dict[str, str]:
    db = connect_ro(data_dir)
    try:
        return dict(db.execute("SELECT url, status FROM pages"))
    finally:
        db.close()


def session_status(data_dir: Path) -> list[tuple[str, str]]:
    db = connect_ro(data_dir)
    try:
        return list(db.execute("SELECT id, status FROM sessions ORDER BY created_at"))
    finally:
        db.close()
