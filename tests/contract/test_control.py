"""Control records: commands to a session, posted durably and applied once by its worker."""

from __future__ import annotations

import pytest

from tui_scraper.domain import ConfigError, SessionNotFound
from tui_scraper.domain.errors import ControlNotFound
from tui_scraper.domain.records import CONTROL_ARGS_MAX_BYTES, ControlCommand

from .backends import ContractStore, Harness
from .helpers import running_session


async def test_every_command_is_recorded_with_its_args_and_who(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    posted = []
    for command in ControlCommand:
        args = {"rate": 2.5, "concurrency": 4} if command is ControlCommand.SET else None
        record = await backend.post_control(session_id, command, who="ui:7", args=args)
        posted.append(record)
        assert (record.session_id, record.command, record.who) == (session_id, command, "ui:7")
        assert record.args == (args or {})
        assert record.pending and record.applied_at is None and record.outcome is None
        assert record.requested_at > 0
        assert await backend.get_control(record.id) == record
    # The plain string a client sends works as well as the enum.
    by_name = await backend.post_control(session_id, "pause", who="cli:1")
    assert by_name.command is ControlCommand.PAUSE
    ids = [r.id for r in [*posted, by_name]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_pending_lists_after_an_id_in_posting_order(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    other = await running_session(backend)
    assert await backend.pending_controls(session_id) == []
    a = await backend.post_control(session_id, ControlCommand.PAUSE, who="t")
    await backend.post_control(other, ControlCommand.CANCEL, who="t")
    b = await backend.post_control(session_id, ControlCommand.SET, who="t", args={"rate": 1})
    c = await backend.post_control(session_id, ControlCommand.RESUME, who="t")
    assert [r.id for r in await backend.pending_controls(session_id)] == [a.id, b.id, c.id]
    assert [r.id for r in await backend.pending_controls(session_id, after_id=a.id)] == [b.id, c.id]
    assert [r.id for r in await backend.pending_controls(session_id, limit=2)] == [a.id, b.id]
    assert await backend.pending_controls(session_id, after_id=c.id) == []
    assert [r.command for r in await backend.pending_controls(other)] == [ControlCommand.CANCEL]


async def test_mark_applied_is_once_and_keeps_the_first_outcome(backend: ContractStore) -> None:
    session_id = await running_session(backend)
    a = await backend.post_control(session_id, ControlCommand.PAUSE, who="t")
    b = await backend.post_control(session_id, ControlCommand.INTERRUPT, who="t")
    assert await backend.mark_control_applied(a.id, outcome="paused") is True
    assert await backend.mark_control_applied(a.id, outcome="paused again") is False
    applied = await backend.get_control(a.id)
    assert not applied.pending and applied.outcome == "paused"
    assert applied.applied_at is not None and applied.applied_at >= applied.requested_at
    assert [r.id for r in await backend.pending_controls(session_id)] == [b.id]
    with pytest.raises(ControlNotFound):
        await backend.mark_control_applied(b.id + 1000, outcome="x")
    with pytest.raises(ControlNotFound):
        await backend.get_control(b.id + 1000)


@pytest.mark.parametrize(
    ("command", "args", "field"),
    [
        ("reboot", None, "command"),
        ("", None, "command"),
        ("PAUSE", None, "command"),
        ("set", None, "args"),
        ("set", {}, "args"),
        ("pause", {"rate": 1}, "args"),
        ("set", {"rate": float("nan")}, "args"),
        ("set", {"when": object()}, "args"),
        ("set", {1: "x"}, "args"),
        ("set", {"": "x"}, "args"),
        ("set", {"blob": "x" * CONTROL_ARGS_MAX_BYTES}, "args"),
    ],
)
async def test_bad_commands_are_refused_with_one_line_and_write_nothing(
    backend: ContractStore, command: str, args: object, field: str
) -> None:
    session_id = await running_session(backend)
    with pytest.raises(ConfigError) as caught:
        await backend.post_control(session_id, command, who="t", args=args)  # type: ignore[arg-type]
    assert caught.value.field == field and "\n" not in str(caught.value)
    assert await backend.pending_controls(session_id) == []


async def test_a_command_for_a_missing_session_is_refused(backend: ContractStore) -> None:
    with pytest.raises(SessionNotFound):
        await backend.post_control("e" * 32, ControlCommand.PAUSE, who="t")
    with pytest.raises(SessionNotFound):
        await backend.pending_controls("e" * 32)


async def test_a_command_posted_by_another_handle_reaches_the_worker(
    backend: ContractStore, harness: Harness
) -> None:
    session_id = await running_session(backend)  # `backend` plays the worker
    client = await harness.open()
    try:
        posted = await client.post_control(
            session_id, ControlCommand.SET, who="cli:9", args={"concurrency": 2}
        )
        [seen] = await backend.pending_controls(session_id)
        assert seen == posted
        assert await backend.mark_control_applied(seen.id, outcome="concurrency 2") is True
        assert (await client.get_control(posted.id)).outcome == "concurrency 2"
        assert await client.pending_controls(session_id) == []
    finally:
        await client.close()


async def test_pending_commands_survive_the_death_of_both_sides(harness: Harness) -> None:
    store = await harness.open()
    session_id = await running_session(store)
    posted = await store.post_control(session_id, ControlCommand.CANCEL, who="ui:1")
    await harness.abandon(store)
    reopened = await harness.open()
    try:
        assert await reopened.pending_controls(session_id) == [posted]
    finally:
        await reopened.close()
