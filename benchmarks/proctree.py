"""What a crawler's whole process tree costs: exact CPU time, peak RSS and peak PSS.

CPU, exact and not sampled: `measure` (run as a "measure" child by a benchmark, through
`python benchmarks/proctree.py -- ARGV`) makes itself a child subreaper
(prctl PR_SET_CHILD_SUBREAPER), so anything orphaned below the command it starts (a detached
worker once its CLI has exited, a tmux server that daemonised, a forkserver and its parse
processes) is reparented to it. It reaps every descendant and reports
getrusage(RUSAGE_CHILDREN), which then holds every process of the tree once: a process's reaped
children are in its own figure, and the kernel adds them up the tree as each one is reaped.

Memory, sampled: `Peaks.sample` sums VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup)
over a tree. RSS counts the pages a forked process shares with its parent once per process;
PSS splits each shared page between the processes that map it, so the sum is what the tree
costs the machine.

The measure child speaks one line per fact on its stdout:
    PID <pid of the command>
    RETURNED <seconds from start to the command's exit> <exit code> <the command's own CPU s>
    STDOUT <the command's stdout, as a JSON string>
    FAILED <exit code> <the tail of its stderr, as a JSON string>     (only when it failed)
    CPU <user + sys seconds of every descendant, the command included>
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PR_SET_CHILD_SUBREAPER = 36
HERE = Path(__file__).resolve().parent


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


def measure(argv: list[str], out: IO[str] = sys.stdout) -> None:
    """Run `argv` (stdin /dev/null), reap its whole tree, print the lines of the module doc."""
    become_subreaper()

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    # stderr to a file: a pipe read only after stdout's end could fill up and stall the crawl.
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        )
        say(f"PID {proc.pid}")
        assert proc.stdout is not None
        captured = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        returned = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        tail = errors.read()[-2000:].decode("utf-8", "replace")
    say(f"RETURNED {returned:.6f} {code} {usage.ru_utime + usage.ru_stime:.6f}")
    say(f"STDOUT {json.dumps(captured.decode('utf-8', 'replace'))}")
    if code != 0:
        say(f"FAILED {code} {json.dumps(tail.strip())}")
    with contextlib.suppress(ChildProcessError):
        while True:
            os.wait()
    total = resource.getrusage(resource.RUSAGE_CHILDREN)
    say(f"CPU {total.ru_utime + total.ru_stime:.6f}")


def measure_argv(argv: list[str]) -> list[str]:
    """The command line of a measure child that runs `argv`."""
    return [sys.executable, str(HERE / "proctree.py"), "--", *argv]


@dataclass
class Measured:
    """The lines of a measure child, read in a thread so that its tree is sampled meanwhile."""

    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: dict[str, str] = field(default_factory=dict)

    def follow(self, pipe: IO[str]) -> None:
        threading.Thread(target=self._feed, args=(pipe,), daemon=True).start()

    def _feed(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.put(line)
        self.lines.put("EOF")

    def poll(self, timeout: float) -> None:
        """Wait up to `timeout` s for the next line (a sampling period, say)."""
        with contextlib.suppress(queue.Empty):
            line = self.lines.get(timeout=max(timeout, 0.0))
            key, _, rest = line.rstrip("\n").partition(" ")
            self.seen[key] = rest

    def take(self, key: str, timeout: float = 600.0) -> str:
        deadline = time.monotonic() + timeout
        while key not in self.seen:
            if "EOF" in self.seen or time.monotonic() > deadline:
                raise RuntimeError(f"the measure child gave no {key} line; it said {self.seen}")
            self.poll(deadline - time.monotonic())
        return self.seen[key]

    @property
    def failure(self) -> str | None:
        if "FAILED" not in self.seen:
            return None
        code, _, tail = self.seen["FAILED"].partition(" ")
        return f"exit {code}: {json.loads(tail)}"

    @property
    def stdout(self) -> str:
        return str(json.loads(self.take("STDOUT")))

    @property
    def returned(self) -> tuple[float, int, float]:
        """(seconds from start to the command's exit, its exit code, its own CPU seconds)."""
        seconds, code, own = self.take("RETURNED").split()
        return float(seconds), int(code), float(own)

    @property
    def cpu_s(self) -> float:
        return float(self.take("CPU"))


def tree_pids(root: int) -> list[int]:
    """`root` and its descendants, through /proc/PID/task/TID/children.

    That file is cheap (no scan of all of /proc), which matters for a sampler running beside
    the crawler on a small machine.
    """
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    stack.extend(int(child) for child in fh.read().split())
        except (OSError, ValueError):  # gone meanwhile
            continue
    return out


def kib(path: str, key: str) -> int:
    """The KiB figure of the line starting with `key` in a /proc file; 0 if it is gone."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """user + sys of one live process so far (clock ticks: 10 ms steps), 0.0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # The command name is in parentheses and may hold spaces: fields start after ")".
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Peaks:
    """The largest sums of RSS and PSS over a process tree, and the RSS of its root, in KiB."""

    rss: int = 0
    pss: int = 0
    root_rss: int = 0

    def sample(self, root: int, skip_root: bool = False) -> None:
        """One sample of `root`'s tree; `skip_root` leaves the root out (a wrapper process)."""
        pids = tree_pids(root)
        if skip_root:
            pids = pids[1:]
        rss = sum(kib(f"/proc/{pid}/status", "VmRSS:") for pid in pids)
        pss = sum(kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids)
        self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
        self.root_rss = max(self.root_rss, kib(f"/proc/{root}/status", "VmRSS:"))


if __name__ == "__main__":
    if sys.argv[1:2] != ["--"] or len(sys.argv) < 3:
        raise SystemExit("usage: proctree.py -- COMMAND [ARGS...]")
    measure(sys.argv[2:])
