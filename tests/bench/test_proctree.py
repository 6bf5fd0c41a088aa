"""The benchmarks' process-tree meter counts every descendant's CPU once, and sees PSS."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import proctree  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

BURN_S = 0.6

# The command forks a grandchild that burns BURN_S of CPU and is orphaned (its parent exits at
# once, without waiting), as a detached worker or a daemonised server is: only a subreaper sees
# it. The command itself burns nothing.
ORPHANING = textwrap.dedent(
    f"""
    import os, resource, sys, time
    if os.fork() == 0:
        if os.fork() == 0:
            while sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) < {BURN_S}:
                pass
            os._exit(0)
        os._exit(0)
    os.wait()
    print("started")
    """
)


def run_measured(code: str) -> proctree.Measured:
    child = subprocess.Popen(
        proctree.measure_argv([sys.executable, "-c", code]), stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    measured = proctree.Measured()
    measured.follow(child.stdout)
    measured.take("CPU", timeout=60)
    assert child.wait(10) == 0
    return measured


def test_an_orphaned_grandchild_cpu_is_counted() -> None:
    measured = run_measured(ORPHANING)
    _, code, own = measured.returned
    assert code == 0 and measured.failure is None
    assert measured.stdout == "started\n"
    assert own < BURN_S / 2  # the command's own figure does not hold the orphan
    # The tree's does, once: interpreter start-ups on top, never a double count.
    assert BURN_S <= measured.cpu_s < BURN_S + 1.0


def test_a_failing_command_says_so() -> None:
    measured = run_measured("import sys; sys.stderr.write('boom\\n'); sys.exit(3)")
    assert measured.returned[1] == 3
    assert measured.failure == "exit 3: boom"


def test_peaks_of_a_forked_tree_split_shared_pages() -> None:
    """A parent holding 40 MiB forks two children: RSS counts it thrice, PSS about once."""
    code = textwrap.dedent(
        """
        import os, sys
        block = bytearray(os.urandom(40 << 20))
        pids = [os.fork() for _ in range(1)]
        if 0 not in pids:
            pids.append(os.fork())
        if 0 in pids:
            sys.stdin.read()
            os._exit(0)
        print("ready", flush=True)
        sys.stdin.read()
        for pid in pids:
            os.waitpid(pid, 0)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        peaks = proctree.Peaks()
        peaks.sample(proc.pid)
        assert len(proctree.tree_pids(proc.pid)) == 3
        assert peaks.rss >= 3 * 40 * 1024  # KiB: the block in each process
        assert 40 * 1024 <= peaks.pss < 2 * 40 * 1024  # the block split three ways
        assert peaks.root_rss >= 40 * 1024
        skipped = proctree.Peaks()
        skipped.sample(proc.pid, skip_root=True)
        assert skipped.rss < peaks.rss and skipped.pss < peaks.pss
        assert proctree.cpu_seconds(proc.pid) > 0.0
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
