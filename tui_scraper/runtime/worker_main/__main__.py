"""`python -P -m tui_scraper.runtime.worker_main --data-dir DIR SESSION_ID` (see worker_process).

With TUI_SCRAPER_WORKER_PROFILE=DIR in its environment (for benchmarks), the worker runs under
cProfile and leaves its figures in DIR/worker-<pid>.prof when it exits.
"""

import contextlib
import os
import sys

from tui_scraper.quick_exit import quick_exit
from tui_scraper.runtime.worker_process import main

PROFILE_ENV = "TUI_SCRAPER_WORKER_PROFILE"


def _run() -> int:
    profile_dir = os.environ.get(PROFILE_ENV)
    if not profile_dir:
        return main()
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(main)
    finally:
        profiler.dump_stats(os.path.join(profile_dir, f"worker-{os.getpid()}.prof"))


with contextlib.suppress(KeyboardInterrupt):
    # The session is settled and the store closed: the heap's teardown would only delay the
    # exit (and the parent's wait for it).
    sys.exit(quick_exit(_run()))
