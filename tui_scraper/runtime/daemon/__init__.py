"""The background service: one process per data dir that starts queued sessions, at most N at
a time, and fires schedules (`tui-scraper service start|status|stop|install-unit`).

    python -P -m tui_scraper.runtime.daemon --data-dir DIR [--parallel N]

It is a starter, never a crawler: each session it starts runs in a background worker of its
own (runtime/spawn.py), which outlives the service. Stopping the service (or killing it) leaves
its workers crawling; the queue rows it marked started tell the next service what it had
started, so nothing is started twice. This package's `__init__` stays light: the CLI imports the
module name and the client helpers without loading the loop.
"""

from typing import Final

# What `python -P -m` runs to start the service (control.start_service, the systemd unit).
MODULE: Final = "tui_scraper.runtime.daemon"
