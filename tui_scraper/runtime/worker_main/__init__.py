"""The background worker's entry point: `python -P -m tui_scraper.runtime.worker_main`.

A package of its own so that the main module is named `*.__main__`: multiprocessing's children
(the parse pool) re-import their parent's main module unless it is named so, and from
`worker_process` they would import the whole runtime, paying its memory in every child.

Also where the module's name is kept: whoever starts a worker imports only this package, not
`worker_process` (which loads the whole engine).
"""

from typing import Final

# What `python -P -m` runs to start a worker (spawn.start_worker).
MODULE: Final = "tui_scraper.runtime.worker_main"
