"""The event log: oldest first, every kind the store writes, per session."""

from __future__ import annotations

import pytest

from tui_scraper.domain import SessionNotFound, Status

from .backends import ContractStore
from .helpers import config, owner


async def test_events_are_oldest_first_with_their_kinds(backend: ContractStore) -> None:
    record = await backend.create_session(config(), who="cli:1")
    other = await backend.create_session(config(), who="cli:2")
    await backend.acquire_run(record.id, owner(), who="cli:1", reason="start")
    await backend.add_event(record.id, "outage", "127.0.0.1:9 is down", who="crawler")
    await backend.add_event(other.id, "error", "elsewhere", who="crawler")
    await backend.transition(record.id, Status.PAUSED, reason="user pause", who="ui:3")
    await backend.release_run(record.id)
    await backend.dismiss(record.id, who="ui:3")
    events = await backend.events(record.id)
    assert [(e.kind, e.from_status, e.to_status, e.who) for e in events] == [
        ("created", None, None, "cli:1"),
        ("transition", Status.PENDING, Status.RUNNING, "cli:1"),
        ("outage", None, None, "crawler"),
        ("transition", Status.RUNNING, Status.PAUSED, "ui:3"),
        ("dismissed", None, None, "ui:3"),
    ]
    assert [e.reason for e in events][1:4] == ["start", "127.0.0.1:9 is down", "user pause"]
    assert all(e.session_id == record.id for e in events)
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    times = [e.at for e in events]
    assert times == sorted(times)
    assert [e.kind for e in await backend.events(other.id)] == ["created", "error"]


async def test_untrusted_text_in_events_is_stored_verbatim(backend: ContractStore) -> None:
    record = await backend.create_session(config(), who="t")
    text = "[bold]not markup[/] \x1b[31m é 'quote' \"dq\" ; DROP TABLE pages; --"
    await backend.add_event(record.id, "error", text, who="crawler")
    assert (await backend.events(record.id))[-1].reason == text


async def test_events_of_a_missing_session_raise_session_not_found(backend: ContractStore) -> None:
    with pytest.raises(SessionNotFound):
        await backend.events("d" * 32)
    with pytest.raises(SessionNotFound):
        await backend.add_event("d" * 32, "error", "x", who="t")
