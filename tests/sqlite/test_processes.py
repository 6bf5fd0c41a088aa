"""Real separate processes: the transition race, lease refusal (T06), orphans (T07)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import InvalidTransition, PageStatus, SessionBusy, Status

from .helpers import child_env, child_script, config, owner

RACER = """
import asyncio, sys, time
from pathlib import Path
from tui_scraper.domain import InvalidTransition, Status
from tui_scraper.backends.sqlite import Store

async def main() -> None:
    data_dir, start_at = Path(sys.argv[1]), float(sys.argv[2])
    store = await Store.open(data_dir)
    try:
        while time.time() < start_at:
            await asyncio.sleep(0.001)
        wins = 0
        for session_id in sys.argv[3:]:
            try:
                await store.transition(session_id, Status.RUNNING, reason="race", who=sys.argv[0],
                                       expected=Status.PENDING)
                wins += 1
            except InvalidTransition:
                pass
        print(wins)
    finally:
        await store.close()

asyncio.run(main())
"""

HOLDER = """
import asyncio, os, sys, time
from pathlib import Path
from tui_scraper.domain import LeaseOwner
from tui_scraper.backends.sqlite import Store

async def main() -> None:
    store = await Store.open(Path(sys.argv[1]))
    me = LeaseOwner("holder-host", os.getpid(), time.time(), "run-holder")
    await store.acquire_run(sys.argv[2], me, who="holder", reason="start")
    await store.claim_batch(sys.argv[2], 10, now=0)
    print("ready", flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


async def test_two_processes_race_exactly_one_wins(tmp_path: Path, data_dir: Path) -> None:
    store = await Store.open(data_dir)
    try:
        ids = [(await store.create_session(config(), who="t")).id for _ in range(20)]
    finally:
        await store.close()
    start_at = str(time.time() + 1.5)
    procs = [
        subprocess.Popen(
            [*child_script(tmp_path, f"racer{i}", RACER), str(data_dir), start_at, *ids],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert sum(int(out.strip()) for out, _ in outputs) == len(ids)
    store = await Store.open(data_dir)
    try:
        for session_id in ids:
            events = await store.events(session_id)
            assert [e.to_status for e in events] == [None, Status.RUNNING]
    finally:
        await store.close()


def start_holder(tmp_path: Path, data_dir: Path, session_id: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*child_script(tmp_path, "holder", HOLDER), str(data_dir), session_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"holder did not start: {line!r} {proc.communicate()[1]}")
    return proc


async def test_second_process_refused_then_orphan_interrupted(
    tmp_path: Path, data_dir: Path
) -> None:
    store = await Store.open(data_dir)
    try:
        alive = (await store.create_session(config(), who="t")).id
        orphan = (await store.create_session(config(), who="t")).id
        await store.transition(orphan, Status.RUNNING, reason="old run", who="t")  # nobody holds it
    finally:
        await store.close()
    holder = start_holder(tmp_path, data_dir, alive)
    try:
        store = await Store.open(data_dir)
        try:
            # T07: the orphan (lock not held) becomes interrupted; the held one is untouched.
            assert await store.reap_orphans(who="test") == [orphan]
            assert (await store.get_session(orphan)).status == Status.INTERRUPTED
            assert "owner process is gone" in (await store.events(orphan))[-1].reason
            assert (await store.get_session(alive)).status == Status.RUNNING
            # T06: a second process asking for the live session is refused, naming the pid.
            before = await store.page_counts(alive)
            with pytest.raises(SessionBusy) as caught:
                await store.acquire_run(alive, owner(), who="test", reason="resume")
            assert caught.value.pid == holder.pid
            assert f"pid {holder.pid}" in str(caught.value) and "holder-host" in str(caught.value)
            assert await store.page_counts(alive) == before
            lease = (await store.get_session(alive)).lease_owner
            assert lease is not None and f":{holder.pid}:" in lease
            # After SIGKILL of the holder the lock is free at once: orphan → interrupted.
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            assert await store.reap_orphans(who="test") == [alive]
            record = await store.get_session(alive)
            assert record.status == Status.INTERRUPTED and record.lease_owner is None
            assert (await store.events(alive))[-1].reason == (
                f"owner process is gone (pid {holder.pid})"
            )
            assert (await store.page_counts(alive))[PageStatus.FETCHING] == 0
            resumed = await store.acquire_run(alive, owner(), who="test", reason="resume")
            assert resumed.status == Status.RUNNING
            assert await store.reap_orphans() == []  # held by us: skipped
            with pytest.raises(SessionBusy):
                await store.acquire_run(alive, owner(), who="test", reason="again")
            await store.transition(alive, Status.PAUSED, reason="p", who="t")
            await store.release_run(alive)
        finally:
            await store.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


async def test_acquire_settles_an_unreaped_orphan(store: Store) -> None:
    session_id = (await store.create_session(config(), who="t")).id
    await store.transition(session_id, Status.RUNNING, reason="old", who="t")
    record = await store.acquire_run(session_id, owner(), who="t", reason="resume")
    assert record.status == Status.RUNNING
    kinds = [(e.from_status, e.to_status) for e in await store.events(session_id)]
    assert kinds[-2:] == [
        (Status.RUNNING, Status.INTERRUPTED),
        (Status.INTERRUPTED, Status.RUNNING),
    ]


async def test_acquire_of_final_session_releases_lock(store: Store, data_dir: Path) -> None:
    session_id = (await store.create_session(config(), who="t")).id
    await store.transition(session_id, Status.FAILED, reason="x", who="t")
    with pytest.raises(InvalidTransition):
        await store.acquire_run(session_id, owner(), who="t", reason="resume")
    assert not store.holds_lease(session_id)
    import fcntl

    fd = os.open(data_dir / "locks" / f"{session_id}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(fd)
