"""What a front end checks before and around a run, answered by the engine and the storage.

The service reaches the engine and the backends only through the runtime, so the few answers a
client needs that are not about one running crawl live here: whether the engine can run a
config (its CSS selectors parse, its CA bundle loads) before anything is created, how one of
our own faults (no memory, no thread) reads, and what became of a session's secret headers.
"""

from __future__ import annotations

from pathlib import Path

from ..backends.sqlite.lease import owner_alive, read_owner
from ..backends.sqlite.secrets import delete_secret_headers, secrets_problem
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


def missing_secrets(data_dir: Path, session_id: str, names: list[str]) -> str | None:
    """Why the secret headers `names` a session was started with cannot be sent again, or None."""
    return secrets_problem(data_dir, session_id, names)


def forget_secrets(data_dir: Path, session_id: str) -> bool:
    """Remove the session's secret headers; True if there were any."""
    return delete_secret_headers(data_dir, session_id)


def worker_alive(data_dir: Path, session_id: str) -> bool:
    """Whether a live process holds the session's lease (asked without writing anything): the
    proof of life a client watching a worker in another process relies on."""
    return owner_alive(Path(data_dir), session_id)


def lease_holder(data_dir: Path, session_id: str) -> dict[str, object] | None:
    """Who holds the session's lease now (pid, host, start, run_id), or None when nobody does.
    The lock itself is the truth; what it records is only for showing."""
    if not owner_alive(Path(data_dir), session_id):
        return None
    return read_owner(Path(data_dir), session_id)


__all__ = [
    "INSECURE_WARNING",
    "check_crawl_config",
    "describe_own_fault",
    "forget_secrets",
    "lease_holder",
    "missing_secrets",
    "worker_alive",
]
