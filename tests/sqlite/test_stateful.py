"""T08: a hypothesis state machine over the Store API, with crash-and-reopen.

A "crash" closes the lock files and the raw SQLite connection without the clean shutdown
(no final checkpoint, no wal_checkpoint, no status change) — what SIGKILL leaves behind — and
reopens; reap_orphans must then turn every running session into interrupted.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tui_scraper.backends.sqlite import NotDismissable, Store
from tui_scraper.domain import (
    ALLOWED_TRANSITIONS,
    InvalidTransition,
    PageResult,
    PageStatus,
    Progress,
    SessionBusy,
    Status,
)

from .helpers import config, owner


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        self.data_dir = Path(self.tmp.name) / "data"
        self.store = self.run(Store.open(self.data_dir))
        self.status: dict[str, Status] = {}
        self.transitions: dict[str, int] = {}
        self.held: set[str] = set()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def pick(self, index: int) -> str:
        ids = sorted(self.status)
        return ids[index % len(ids)]

    @rule()
    def create(self) -> None:
        record = self.run(self.store.create_session(config(), who="hyp"))
        self.status[record.id] = Status.PENDING
        self.transitions[record.id] = 0

    @precondition(lambda self: self.status)
    @rule(index=st.integers(0, 50), wanted=st.sampled_from(list(Status)))
    def transition(self, index: int, wanted: Status) -> None:
        session_id = self.pick(index)
        current = self.status[session_id]
        try:
            self.run(self.store.transition(session_id, wanted, reason="hyp", who="hyp"))
        except InvalidTransition as error:
            assert wanted not in ALLOWED_TRANSITIONS[current]
            assert (error.current, error.wanted) == (current, wanted)
            return
        assert wanted in ALLOWED_TRANSITIONS[current]
        self.status[session_id] = wanted
        self.transitions[session_id] += 1
        if current == Status.RUNNING and session_id in self.held:
            self.run(self.store.release_run(session_id))
            self.held.discard(session_id)

    @precondition(lambda self: self.status)
    @rule(index=st.integers(0, 50))
    def acquire(self, index: int) -> None:
        session_id = self.pick(index)
        current = self.status[session_id]
        try:
            self.run(self.store.acquire_run(session_id, owner(), who="hyp", reason="run"))
        except SessionBusy:
            assert session_id in self.held
            return
        except InvalidTransition:
            assert current in (Status.COMPLETED, Status.FAILED)
            return
        if current == Status.RUNNING:  # an unheld running session is an orphan: settled first
            self.transitions[session_id] += 1
        self.status[session_id] = Status.RUNNING
        self.transitions[session_id] += 1
        self.held.add(session_id)

    @precondition(lambda self: self.status)
    @rule(index=st.integers(0, 50), n=st.integers(0, 3))
    def crawl_a_little(self, index: int, n: int) -> None:
        session_id = self.pick(index)
        claimed = self.run(self.store.claim_batch(session_id, n, now=0))
        results = [PageResult(p.id, p.url, PageStatus.DONE, 1) for p in claimed]
        self.run(self.store.checkpoint(session_id, results, Progress(done=1), heartbeat=1))

    @precondition(lambda self: self.status)
    @rule(index=st.integers(0, 50))
    def dismiss(self, index: int) -> None:
        session_id = self.pick(index)
        try:
            self.run(self.store.dismiss(session_id, who="hyp"))
        except NotDismissable:
            assert self.status[session_id] not in (Status.PAUSED, Status.INTERRUPTED)

    @rule()
    def crash_and_reopen(self) -> None:
        for held in self.store._leases.values():  # the kernel drops flocks of a dead process
            os.close(held.fd)
            held.fd = -1
        self.store._leases.clear()
        db = self.store._db
        db._closed = True
        # Close the connections as a dying process does: no final checkpoint, no cleanup.
        assert db._writer is not None
        self.run(db._reader.close())
        self.run(db._writer.close())
        self.store = self.run(Store.open(self.data_dir))
        reaped = set(self.run(self.store.reap_orphans(who="hyp")))
        running = {s for s, status in self.status.items() if status == Status.RUNNING}
        assert reaped == running
        for session_id in running:
            self.status[session_id] = Status.INTERRUPTED
            self.transitions[session_id] += 1
        self.held.clear()

    @invariant()
    def database_matches_model(self) -> None:
        records = {r.id: r for r in self.run(self.store.list_sessions())}
        assert {k: r.status for k, r in records.items()} == self.status
        for session_id in self.status:
            events = self.run(self.store.events(session_id))
            steps = [e for e in events if e.to_status is not None]
            assert len(steps) == self.transitions[session_id]
            current = Status.PENDING
            for event in steps:
                assert event.from_status == current and event.to_status is not None
                assert event.to_status in ALLOWED_TRANSITIONS[current]
                current = event.to_status
            assert current == self.status[session_id]

    def teardown(self) -> None:
        try:
            self.run(self.store.close())
            db = sqlite3.connect(self.data_dir / "scraper.db")
            try:
                assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert db.execute("PRAGMA foreign_key_check").fetchall() == []
            finally:
                db.close()
        finally:
            self.loop.close()
            self.tmp.cleanup()


StoreMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_store_state_machine = StoreMachine.TestCase
