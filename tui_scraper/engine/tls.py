"""Which TLS certificates a crawl trusts: the system's, plus a local CA, or (asked for) none.

A verification failure is the site's configuration, not a passing fault: retrying it only
delays the answer, so the fetcher reports it once, permanently, naming the way out.
"""

from __future__ import annotations

import functools
import ssl

from ..domain.errors import ConfigError

__all__ = ["INSECURE_WARNING", "check_ca_bundle", "shared_ssl_context", "tls_context"]

INSECURE_WARNING = (
    "warning: --insecure: TLS certificates are NOT verified; anyone on the path can read "
    "and change what this crawl fetches"
)


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying SSL context per process. Building one loads the CA bundle, a long stretch of
    CPU with the GIL held: once per Fetcher it stalled the event loop at every crawl start."""
    # Imported here: only a process that builds a Fetcher needs httpx.
    import httpx

    return httpx.create_ssl_context()


def check_ca_bundle(path: str) -> None:
    """Raise ConfigError("ca-bundle", …) unless `path` is a readable file of PEM certificates."""
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise ConfigError("ca-bundle", f"{path!r}: no such file") from None
    except IsADirectoryError:
        raise ConfigError("ca-bundle", f"{path!r} is a directory, not a PEM file") from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ConfigError("ca-bundle", f"{path!r}: not a PEM certificate file ({reason})") from None


@functools.cache
def tls_context(ca_bundle: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_bundle is None:
        return shared_ssl_context()
    import httpx  # as in shared_ssl_context: only where a Fetcher is built

    context = httpx.create_ssl_context()
    try:
        context.load_verify_locations(cafile=ca_bundle)  # trusted in addition to the system's
    except (ssl.SSLError, OSError) as exc:
        # Checked when the session was created; the file may have gone before a resume.
        raise ConfigError("ca-bundle", f"{ca_bundle!r}: cannot load ({exc})") from None
    return context
