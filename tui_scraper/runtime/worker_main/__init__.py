"""The background worker's entry point: `python -P -m tui_scraper.runtime.worker_main`.

A package of its own so that the main module is named `*.__main__`: multiprocessing's children
(the parse pool) re-import their parent's main module unless it is named so, and from
`worker_process` they would import the whole runtime, paying its memory in every child.
"""
