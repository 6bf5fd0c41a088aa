"""What goes over the live channel: message types, the protocol version, limits, encode/decode.

Each message is one JSON object on one line (UTF-8, `\\n`-terminated) with a string `type`.
Server → client: `hello` (first, carries `protocol`), `snapshot` (second), then `progress`,
`event`, `heartbeat`, and `ack`/`error` replies to commands. Client → server: the commands
below, each with an optional `id` that the reply echoes.

Payloads (`data`) may carry site titles, URLs and error texts: the channel moves them as JSON
strings and never interprets them; whoever shows them makes them display-safe.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from tui_scraper.domain.config import BOUNDS

PROTOCOL_VERSION: Final = 1

# A command is a few hundred bytes; anything near this is garbage or an attack. The server
# never holds more than this of one client's unfinished line.
MAX_CLIENT_LINE: Final = 64 * 1024
# Snapshots carry recent pages and errors, so the server may send more than a client may.
MAX_SERVER_LINE: Final = 1024 * 1024
# `id` is echoed back verbatim: keep what a client can make the server store small.
MAX_ID_CHARS: Final = 128
MAX_EXCLUDE_PATTERNS: Final = 256
MAX_PATTERN_CHARS: Final = 2048
# `interrupt` may say why (it lands in the session's timeline, shown on the recovery screen).
MAX_REASON_CHARS: Final = 200

CommandKind = Literal["pause", "resume", "cancel", "interrupt", "set"]
COMMANDS: Final[frozenset[str]] = frozenset(get_args(CommandKind))
SERVER_TYPES: Final = frozenset(
    {"hello", "snapshot", "progress", "event", "heartbeat", "ack", "error"}
)
SET_FIELDS: Final = ("rate", "concurrency", "exclude")

CommandId = str | int

# Error codes of `error` messages. The first four close the connection (the line was not a
# message at all); the others answer one command and the connection stays.
MALFORMED: Final = "malformed"  # not UTF-8, not JSON
NOT_OBJECT: Final = "not-object"
UNKNOWN_TYPE: Final = "unknown-type"
TOO_LONG: Final = "too-long"
BAD_COMMAND: Final = "bad-command"  # a known command with bad arguments
REFUSED: Final = "refused"  # the worker said no (e.g. pause while already paused)
INTERNAL: Final = "internal"  # the worker failed handling it; the worker itself goes on


class ProtocolError(Exception):
    """A line that is not a valid message; `code` is one of the error codes above."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class CommandInvalid(ProtocolError):
    """A known command whose `id` or arguments are wrong: answered, the connection stays."""

    def __init__(self, message: str, command_id: CommandId | None) -> None:
        super().__init__(BAD_COMMAND, message)
        self.command_id = command_id


@dataclass(frozen=True)
class SetArgs:
    """Live tuning; a field left None is left as it is. `rate` is requests/s per host."""

    rate: float | None = None
    concurrency: int | None = None
    exclude: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Command:
    """A validated client command: what a command handler receives."""

    kind: CommandKind
    id: CommandId | None = None
    args: SetArgs | None = None
    # Why, for `interrupt` ({"args": {"reason": ...}}); None: the worker names who asked.
    reason: str | None = None


@dataclass(frozen=True)
class Reply:
    """What a command handler returns: an `ack` (ok) or an `error` with code `refused`."""

    ok: bool
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def accepted(cls, message: str = "", **data: Any) -> Reply:
        return cls(True, message, data)

    @classmethod
    def refused(cls, message: str) -> Reply:
        return cls(False, message)


def encode(message: Mapping[str, Any], limit: int = MAX_SERVER_LINE) -> bytes:
    """One message as one line. ASCII-only JSON, so no raw control character or line
    separator can reach a terminal that dumps the stream. Over `limit`: ProtocolError."""
    line = json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    data = line.encode("ascii") + b"\n"
    if len(data) > limit:
        raise ProtocolError(TOO_LONG, f"a {message.get('type')} message of {len(data)} bytes")
    return data


def decode(line: bytes) -> dict[str, Any]:
    """One received line (without or with its `\\n`) as a message object with a str `type`.

    The caller has already bounded the line's length. Raises ProtocolError for anything else.
    """
    try:
        text = line.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ProtocolError(MALFORMED, "the line is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    # RecursionError: "[[[[…" nested past the stack; ValueError: JSON errors and ints with
    # more digits than Python converts.
    except (ValueError, RecursionError):
        raise ProtocolError(MALFORMED, "the line is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(NOT_OBJECT, "a message must be a JSON object")
    if not isinstance(value.get("type"), str):
        raise ProtocolError(NOT_OBJECT, "a message needs a string 'type'")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_command(message: Mapping[str, Any]) -> Command:
    """A decoded client message as a Command. An unknown type is a ProtocolError (the client
    speaks something else: close it); bad arguments are CommandInvalid (answer it)."""
    kind = message["type"]
    if kind not in COMMANDS:
        raise ProtocolError(UNKNOWN_TYPE, f"unknown message type {_shown(kind)}")
    command_id = message.get("id")
    if command_id is not None and not _valid_id(command_id):
        raise CommandInvalid(
            f"'id' must be a string of at most {MAX_ID_CHARS} characters or an integer", None
        )
    extra = set(message) - {"type", "id", "args"}
    if extra:
        raise CommandInvalid(f"unexpected field {_shown(sorted(extra)[0])}", command_id)
    args = message.get("args")
    if kind == "interrupt" and args not in (None, {}):
        return Command(kind, command_id, reason=_parse_reason(args, command_id))
    if kind != "set":
        if args not in (None, {}):
            raise CommandInvalid(f"{kind} takes no arguments", command_id)
        return Command(kind, command_id)
    return Command("set", command_id, _parse_set_args(args, command_id))


def _parse_reason(args: object, command_id: CommandId | None) -> str:
    reason = args.get("reason") if isinstance(args, dict) and set(args) == {"reason"} else None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise CommandInvalid(
            f"interrupt takes only 'reason', a string of 1 to {MAX_REASON_CHARS} characters",
            command_id,
        )
    return reason


def _valid_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2**63
    return isinstance(value, str) and len(value) <= MAX_ID_CHARS


def _parse_set_args(args: object, command_id: CommandId | None) -> SetArgs:
    def refuse(message: str) -> CommandInvalid:
        return CommandInvalid(message, command_id)

    if not isinstance(args, dict) or not args:
        raise refuse(f"set needs 'args', an object with any of {', '.join(SET_FIELDS)}")
    unknown = set(args) - set(SET_FIELDS)
    if unknown:
        raise refuse(f"set has no argument {_shown(sorted(unknown)[0])}")
    rate = args.get("rate")
    if rate is not None:
        low, high = BOUNDS["rate"]
        number = isinstance(rate, int | float) and not isinstance(rate, bool)
        if not number or not math.isfinite(rate) or not low <= rate <= high:
            raise refuse(f"rate must be a number of requests per second from {low} to {high:g}")
        rate = float(rate)
    concurrency = args.get("concurrency")
    if concurrency is not None:
        low, high = BOUNDS["concurrency"]
        whole = isinstance(concurrency, int) and not isinstance(concurrency, bool)
        if not whole or not low <= concurrency <= high:
            raise refuse(f"concurrency must be a whole number from {low:g} to {high:g}")
    exclude = args.get("exclude")
    patterns: tuple[str, ...] | None = None
    if exclude is not None:
        patterns = _parse_patterns(exclude, refuse)
    return SetArgs(rate=rate, concurrency=concurrency, exclude=patterns)


def _parse_patterns(value: object, refuse: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_EXCLUDE_PATTERNS:
        raise refuse(f"exclude must be a list of at most {MAX_EXCLUDE_PATTERNS} patterns")
    for pattern in value:
        if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_CHARS:
            raise refuse(
                f"each exclude pattern must be a string of 1 to {MAX_PATTERN_CHARS} characters"
            )
        try:
            re.compile(pattern)
        except re.error as exc:
            raise refuse(f"bad regular expression {pattern!r}: {exc}") from None
    return tuple(value)


def _shown(value: object) -> str:
    """An untrusted name quoted for an error message: repr (escapes control characters),
    cut short so a long name cannot make a long reply."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def hello(pid: int, session_id: str | None) -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "server": "tui-scraper",
        "pid": pid,
        "session": session_id,
        "max_line": MAX_CLIENT_LINE,
    }


def ack(command: Command, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "ack", "id": command.id, "command": command.kind}
    if reply.message:
        message["message"] = reply.message
    if reply.data:
        message["data"] = dict(reply.data)
    return message


def error(code: str, message: str, command_id: CommandId | None = None) -> dict[str, Any]:
    return {"type": "error", "id": command_id, "code": code, "message": message}
