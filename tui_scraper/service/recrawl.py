"""Which sessions can be recrawled, and the config of a recrawl (the CLI's `recrawl`, the app's
`R` on a session's detail).

A recrawl is a new session on the same target and config with `recrawl_of` naming the earlier
one: its crawl sends that session's validators as conditions (engine/recrawl.py). Only a
finished session (completed or failed) is recrawled: one still running or resumable has not
stored what it will store, and the diff of the two would compare a crawl with half of itself.
"""

from __future__ import annotations

from tui_scraper.domain.config import CrawlConfig
from tui_scraper.domain.errors import ScraperError
from tui_scraper.domain.records import SessionRecord
from tui_scraper.domain.status import Status
from tui_scraper.warc_live import CONFIG_KEY as LIVE_WARC_KEY

__all__ = ["RECRAWLABLE", "NotRecrawlable", "recrawl_config_of"]

RECRAWLABLE = frozenset({Status.COMPLETED, Status.FAILED})


class NotRecrawlable(ScraperError):
    """The session cannot be recrawled (not finished, or crawled with secret headers)."""


def recrawl_config_of(session: SessionRecord) -> CrawlConfig:
    """The config of a recrawl of `session`; NotRecrawlable (one line) when there is none."""
    if session.status not in RECRAWLABLE:
        raise NotRecrawlable(
            f"session {session.short_id} is {session.status.value}; only a completed or failed "
            "session can be recrawled (resume it, or wait for it to finish)"
        )
    names = session.config.extra.get("secret_header_names") or []
    if names:
        # Their values were deleted when the session ended: a recrawl without them would ask
        # for other pages than the ones stored, and every answer would look like a change.
        shown = ", ".join(str(n) for n in names)
        raise NotRecrawlable(
            f"session {session.short_id} was crawled with secret headers ({shown}), which are "
            "deleted when a session ends; start a new crawl with them instead"
        )
    # The earlier session's live WARC (`crawl --warc FILE`) is that session's archive: a recrawl
    # that kept its path would append to it and take its journal's pages as written already.
    extra = {k: v for k, v in session.config.extra.items() if k != LIVE_WARC_KEY}
    return session.config.with_changes(recrawl_of=session.id, extra=extra)
