"""`python -P -m tui_scraper.runtime.daemon --data-dir DIR [--parallel N]` (see process.py)."""

import contextlib
import sys

from tui_scraper.quick_exit import quick_exit
from tui_scraper.runtime.daemon.process import main

with contextlib.suppress(KeyboardInterrupt):
    sys.exit(quick_exit(main()))
