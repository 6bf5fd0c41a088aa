"""`python -P -m tui_scraper.runtime.worker_main --data-dir DIR SESSION_ID` (see worker_process)."""

import contextlib
import sys

from tui_scraper.runtime.worker_process import main

with contextlib.suppress(KeyboardInterrupt):
    sys.exit(main())
