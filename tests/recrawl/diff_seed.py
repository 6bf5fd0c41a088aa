"""Two sessions of one target, the later a recrawl of the earlier, as the Diff view sees them:
pages stored through the real store, with real blobs (their text is what a page's diff shows)."""

from __future__ import annotations

from typing import Any

from tests.ui.seed import Seeder
from tui_scraper.domain import CrawlConfig, PageStatus, SessionRecord, Status

TARGET = "http://site.test/"
HOSTILE_LINE = "[b]not bold[/b] \x1b[31mred?"


def page(title: str, *lines: str) -> bytes:
    body = "".join(f"<p>{line}</p>\n" for line in lines)
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


async def _session(seeder: Seeder, config: CrawlConfig) -> SessionRecord:
    store = seeder.store
    seeder.clock.now += 60
    record = await store.create_session(config, who="ui:test")
    await store.transition(record.id, Status.RUNNING, reason="started", who="ui:test")
    return record


async def _finish(seeder: Seeder, record: SessionRecord) -> SessionRecord:
    await seeder.store.transition(record.id, Status.COMPLETED, reason="done", who="ui:test")
    finished = await seeder.store.get_session(record.id)
    seeder.created.append(finished)
    return finished


def _stored(seeder: Seeder, body: bytes, **fields: Any) -> dict[str, Any]:
    sha, path = seeder.store.blobs.write(body)
    return {"content_hash": sha, "storage_path": path, "size": len(body), **fields}


async def seed_recrawl(seeder: Seeder) -> tuple[SessionRecord, SessionRecord]:
    """A, then B = recrawl of A: / and /same unchanged (304), /changed edited, /gone deleted
    (404), /new added; a third session of another target that is never a candidate."""
    home = page("Home", "Welcome")
    same = page("Same", "Nothing new here")
    a = await _session(seeder, CrawlConfig(target_url=TARGET))
    await seeder.add_pages(
        a.id,
        [
            (TARGET, _stored(seeder, home)),
            (f"{TARGET}changed", _stored(seeder, page("Changed", "first line", "old words"))),
            (f"{TARGET}gone", _stored(seeder, page("Gone", "soon deleted"))),
            (f"{TARGET}same", _stored(seeder, same)),
        ],
    )
    a = await _finish(seeder, a)
    other = await _session(seeder, CrawlConfig(target_url="http://elsewhere.test/"))
    await _finish(seeder, other)
    b = await _session(seeder, CrawlConfig(target_url=TARGET, recrawl_of=a.id))
    edited = page("Changed", "first line", "new words", HOSTILE_LINE)
    await seeder.add_pages(
        b.id,
        [
            (TARGET, _stored(seeder, home, http_status=304)),
            (f"{TARGET}changed", _stored(seeder, edited)),
            (
                f"{TARGET}gone",
                {"status": PageStatus.FAILED, "http_status": 404, "content_type": None},
            ),
            (f"{TARGET}new", _stored(seeder, page("New", "fresh"))),
            (f"{TARGET}same", _stored(seeder, same, http_status=304)),
        ],
    )
    b = await _finish(seeder, b)
    return a, b
