"""Run the real CLI in this process, with optional faults set up first.

Used by the hardening tests as `python run_cli.py ARGS...` (the venv's python):
- HARDENING_FSIZE=N: RLIMIT_FSIZE of N bytes, SIGXFSZ ignored, so writes past N fail with EFBIG
  (what a full disk looks like to SQLite and to the blob writer, without root);
- HARDENING_NOFILE=N: RLIMIT_NOFILE of N descriptors (`ulimit -n N`);
- HARDENING_STOP_AFTER_OPEN=1: an export stops for good right after it opened its output (temp
  file created), so the test can SIGKILL it exactly there;
- HARDENING_AS=N: RLIMIT_AS of N bytes (`ulimit -v`), so allocations past it raise MemoryError;
- HARDENING_HWM_FILE=PATH: at exit, write this process's peak RSS (VmHWM, KiB) to PATH. VmHWM
  belongs to the new address space only; ru_maxrss would carry the parent's peak across exec.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from pathlib import Path


def vm_hwm_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def _stop_after_open() -> None:
    import time

    from tui_scraper import export, outfile

    real_open = outfile.open_output

    def open_then_stop(path: Path) -> outfile.OutputFile:
        opened = real_open(path)
        while True:  # until the test kills us
            time.sleep(1)
        return opened

    export.open_output = open_then_stop  # type: ignore[assignment]


def run() -> int:
    limit = os.environ.get("HARDENING_FSIZE")
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    nofile = os.environ.get("HARDENING_NOFILE")
    if nofile:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (int(nofile), hard))
    if os.environ.get("HARDENING_STOP_AFTER_OPEN"):
        _stop_after_open()
    address_space = os.environ.get("HARDENING_AS")
    if address_space:
        resource.setrlimit(resource.RLIMIT_AS, (int(address_space), int(address_space)))
    from tui_scraper.cli import main

    try:
        return main(sys.argv[1:])
    finally:
        hwm_file = os.environ.get("HARDENING_HWM_FILE")
        if hwm_file:
            with open(hwm_file, "w") as fh:
                fh.write(str(vm_hwm_kib()))


if __name__ == "__main__":
    sys.exit(run())
