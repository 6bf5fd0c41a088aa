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

`python benchmarks/proctree.py --pss -- ARGV` runs ARGV in the foreground and prints its tree's
peak PSS and what each process held of it (the crawl's process, multiprocessing's forkserver and
resource_tracker, each fetch worker): where a tree's memory goes.

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


def cmdline(pid: int) -> str:
    """A process's command line, arguments joined by spaces; "" if it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def parent_pid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def role_of(pid: int, root: int) -> str:
    """What a process of a crawl's tree is, for the per-process figures.

    multiprocessing's helpers are told apart by the `-c` line they run; a fetch worker is a fork
    of the forkserver, so it runs the forkserver's line and is told apart by its parent."""
    line = cmdline(pid)
    if "multiprocessing.resource_tracker" in line:
        return "resource_tracker"
    if "multiprocessing.forkserver" in line:
        parent = cmdline(parent_pid(pid))
        return "fetch worker" if "multiprocessing.forkserver" in parent else "forkserver"
    if "multiprocessing" in line:
        return "multiprocessing child"
    if pid == root:
        return "root"
    return Path(line.split(" ", 1)[0]).name or "?"


@dataclass
class Peaks:
    """The largest sums of RSS and PSS over a process tree, and the RSS of its root, in KiB.

    `at_peak` is the PSS of each process in the sample with the largest PSS sum (pid → (role,
    KiB)), so a report can say where the tree's memory is at its peak: the crawl's own process,
    multiprocessing's helpers, each fetch worker. (Each process's own peak would mislead: a
    forkserver's PSS is highest before it forks the workers that then share its pages.)"""

    rss: int = 0
    pss: int = 0
    root_rss: int = 0
    at_peak: dict[int, tuple[str, int]] = field(default_factory=dict)
    _roles: dict[int, str] = field(default_factory=dict)

    def sample(self, root: int, skip_root: bool = False) -> None:
        """One sample of `root`'s tree; `skip_root` leaves the root out (a wrapper process)."""
        pids = tree_pids(root)
        if skip_root:
            pids = pids[1:]
        top = pids[0] if pids else root
        rss = sum(kib(f"/proc/{pid}/status", "VmRSS:") for pid in pids)
        each = {pid: kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids}
        pss = sum(each.values())
        if pss > self.pss:
            for pid in each:
                if pid not in self._roles:
                    self._roles[pid] = role_of(pid, top)
            self.at_peak = {pid: (self._roles[pid], kb) for pid, kb in each.items() if kb}
        self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
        self.root_rss = max(self.root_rss, kib(f"/proc/{root}/status", "VmRSS:"))

    def per_process(self) -> list[tuple[str, int]]:
        """(role, PSS KiB) of each process at the tree's peak, in the order they started (pid
        order, which is start order unless pids wrapped)."""
        return [self.at_peak[pid] for pid in sorted(self.at_peak)]


def watch(argv: list[str], period: float = 0.1, out: IO[str] = sys.stdout) -> int:
    """Run `argv` in the foreground, sample its tree every `period` s, then print its peak PSS
    (the largest sampled sum) and each process's share of it: what `--pss` prints."""
    peaks = Peaks()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    while proc.poll() is None:
        peaks.sample(proc.pid)
        time.sleep(period)
    out.write(f"tree peak PSS {peaks.pss / 1024:.1f} MB (RSS {peaks.rss / 1024:.1f} MB), of it:\n")
    for role, pss in peaks.per_process():
        out.write(f"  {role:<24} {pss / 1024:6.1f} MB\n")
    out.flush()
    return proc.returncode


if __name__ == "__main__":
    if sys.argv[1:3] == ["--pss", "--"] and len(sys.argv) > 3:
        raise SystemExit(watch(sys.argv[3:]))
    if sys.argv[1:2] != ["--"] or len(sys.argv) < 3:
        raise SystemExit("usage: proctree.py [--pss] -- COMMAND [ARGS...]")
    measure(sys.argv[2:])
