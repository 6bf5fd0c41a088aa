"""The `worker` command's way to the runtime: join the running sessions of a shared database
(the runtime's joiner does the work; the command line reaches it only through the service)."""

from __future__ import annotations

from ..runtime.joiner import JoinReport, NotJoinable, ProgressSink, join_running

__all__ = ["JoinReport", "NotJoinable", "ProgressSink", "join_running"]
