"""The shape of a session id: the one rule every layer checks an id or a prefix against."""

from __future__ import annotations

import re

# Ids are uuid4().hex: 32 lowercase hex digits. Anything else never names a file of a session.
# \A…\Z, not ^…$: `$` also matches before a trailing newline, and "id\n" names no session.
SESSION_ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")
# What a person may type for one: a prefix, any case (resolved against the stored ids).
SESSION_REF_RE = re.compile(r"\A[0-9a-fA-F]+\Z")


def is_session_id(text: str) -> bool:
    return SESSION_ID_RE.match(text) is not None


def is_session_ref(text: str) -> bool:
    return SESSION_REF_RE.match(text) is not None
