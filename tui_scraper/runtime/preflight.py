"""What a front end checks before and around a run, answered by the engine.

The service reaches the engine and the backends only through the runtime, so the few answers a
client needs that are not about one running crawl live here: whether the engine can run a
config (its CSS selectors parse, its CA bundle loads) before anything is created, and how one
of our own faults (no memory, no thread) reads. Importing this module loads the engine's HTML
parser and TLS stack: only the commands that start a crawl do (`session_files.py` answers the
rest without them).
"""

from __future__ import annotations

from ..domain.config import CrawlConfig
from ..engine.extract import validate_rules
from ..engine.faults import describe_fault, is_our_fault
from ..engine.tls import INSECURE_WARNING, check_ca_bundle


def check_crawl_config(config: CrawlConfig) -> None:
    """Raise ConfigError unless the engine can run `config`: the checks that need engine code
    (CrawlConfig.validate has already done the pure ones)."""
    validate_rules(config.extract)
    if config.ca_bundle is not None:
        check_ca_bundle(config.ca_bundle)


def describe_own_fault(exc: BaseException) -> str | None:
    """One line for an error that is ours (memory, threads, descriptors), else None: the site's
    errors and our bugs are not worded away."""
    return describe_fault(exc) if is_our_fault(exc) else None


__all__ = ["INSECURE_WARNING", "check_crawl_config", "describe_own_fault"]
