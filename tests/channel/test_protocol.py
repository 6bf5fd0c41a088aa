"""The wire format as units: encode/decode, and what a valid command is."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tui_scraper.runtime.channel import protocol
from tui_scraper.runtime.channel.protocol import (
    Command,
    CommandInvalid,
    ProtocolError,
    SetArgs,
    decode,
    encode,
    parse_command,
)


def test_encode_is_one_ascii_line() -> None:
    line = encode({"type": "event", "data": {"title": "naïve\u2028\x1b[2J"}})
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    assert decode(line)["data"]["title"] == "naïve\u2028\x1b[2J"


def test_encode_refuses_over_the_limit_and_nan() -> None:
    with pytest.raises(ProtocolError) as caught:
        encode({"type": "snapshot", "data": "x" * 100}, limit=50)
    assert caught.value.code == protocol.TOO_LONG
    with pytest.raises(ValueError):
        encode({"type": "progress", "rate": math.nan})


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"nope", "malformed"),
        (b"\xc0\xaf", "malformed"),
        (b"Infinity", "malformed"),
        (b'"a string"', "not-object"),
        (b"null", "not-object"),
        (b'{"type": null}', "not-object"),
    ],
)
def test_decode_refuses(line: bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(line)
    assert caught.value.code == code


@pytest.mark.parametrize("kind", ["pause", "resume", "cancel", "interrupt"])
def test_plain_commands(kind: str) -> None:
    assert parse_command({"type": kind}) == Command(kind, None)  # type: ignore[arg-type]
    assert parse_command({"type": kind, "id": "x"}) == Command(kind, "x")  # type: ignore[arg-type]
    assert parse_command({"type": kind, "id": 3, "args": {}}).id == 3


def test_set_with_every_argument() -> None:
    command = parse_command(
        {"type": "set", "id": 1, "args": {"rate": 2, "concurrency": 8, "exclude": ["/a", "b$"]}}
    )
    assert command == Command("set", 1, SetArgs(rate=2.0, concurrency=8, exclude=("/a", "b$")))
    assert isinstance(command.args and command.args.rate, float)


def test_interrupt_may_say_why() -> None:
    command = parse_command(
        {"type": "interrupt", "id": 2, "args": {"reason": "quit while running"}}
    )
    assert command == Command("interrupt", 2, reason="quit while running")


def test_unknown_type_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_command({"type": "hello"})  # a server message sent back is not a command
    assert caught.value.code == protocol.UNKNOWN_TYPE
    assert not isinstance(caught.value, CommandInvalid)


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"type": "pause", "id": True}, "'id'"),
        ({"type": "pause", "id": 1.5}, "'id'"),
        ({"type": "pause", "id": "x" * 129}, "'id'"),
        ({"type": "pause", "id": 2**70}, "'id'"),
        ({"type": "pause", "args": {"rate": 1}}, "takes no arguments"),
        ({"type": "pause", "extra": 1}, "unexpected field"),
        ({"type": "pause", "args": {"reason": "x"}}, "takes no arguments"),
        ({"type": "interrupt", "args": {"reason": ""}}, "'reason'"),
        ({"type": "interrupt", "args": {"reason": 3}}, "'reason'"),
        ({"type": "interrupt", "args": {"reason": "x" * 201}}, "'reason'"),
        ({"type": "interrupt", "args": {"reason": "x", "rate": 1}}, "'reason'"),
        ({"type": "set"}, "needs 'args'"),
        ({"type": "set", "args": {}}, "needs 'args'"),
        ({"type": "set", "args": [1]}, "needs 'args'"),
        ({"type": "set", "args": {"speed": 1}}, "no argument 'speed'"),
        ({"type": "set", "args": {"rate": 0}}, "rate"),
        ({"type": "set", "args": {"rate": 1001}}, "rate"),
        ({"type": "set", "args": {"rate": True}}, "rate"),
        ({"type": "set", "args": {"rate": "5"}}, "rate"),
        ({"type": "set", "args": {"rate": math.inf}}, "rate"),
        ({"type": "set", "args": {"rate": math.nan}}, "rate"),
        ({"type": "set", "args": {"concurrency": 0}}, "concurrency"),
        ({"type": "set", "args": {"concurrency": 513}}, "concurrency"),
        ({"type": "set", "args": {"concurrency": 4.0}}, "concurrency"),
        ({"type": "set", "args": {"concurrency": False}}, "concurrency"),
        ({"type": "set", "args": {"exclude": "/a"}}, "list"),
        ({"type": "set", "args": {"exclude": ["/a"] * 257}}, "list"),
        ({"type": "set", "args": {"exclude": [3]}}, "string"),
        ({"type": "set", "args": {"exclude": [""]}}, "string"),
        ({"type": "set", "args": {"exclude": ["x" * 2049]}}, "string"),
        ({"type": "set", "args": {"exclude": ["(unclosed"]}}, "bad regular expression"),
    ],
)
def test_bad_arguments_are_answered_not_fatal(message: dict[str, Any], words: str) -> None:
    with pytest.raises(CommandInvalid) as caught:
        parse_command(message)
    assert caught.value.code == protocol.BAD_COMMAND
    assert words in caught.value.message
    good_id = message.get("id") if isinstance(message.get("id"), str | int) else None
    if caught.value.command_id is not None:
        assert caught.value.command_id == good_id


def test_error_messages_quote_untrusted_names_short_and_escaped() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_command({"type": "\x1b[2J" + "x" * 500})
    assert "\x1b" not in caught.value.message and len(caught.value.message) < 100


def test_replies() -> None:
    command = Command("pause", "c1")
    assert protocol.ack(command, protocol.Reply.accepted()) == {
        "type": "ack",
        "id": "c1",
        "command": "pause",
    }
    acked = protocol.ack(command, protocol.Reply.accepted("paused", at=3))
    assert acked["message"] == "paused" and acked["data"] == {"at": 3}
    assert json.loads(encode(protocol.error("refused", "no", 5))) == {
        "type": "error",
        "id": 5,
        "code": "refused",
        "message": "no",
    }
