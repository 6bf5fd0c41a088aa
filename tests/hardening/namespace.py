"""Run a shell script in a private mount namespace (`unshare -m`), for faults that file modes
cannot make when the tests run as root: a read-only file system (EROFS), a full disk (a tiny
tmpfs). Mounts made there vanish with the script and are never seen by the rest of the machine."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path


@functools.cache
def unshare_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def run_in_mount_namespace(
    script: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`sh -c script sh ARGS...` with `python` being this venv's interpreter."""
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
