"""How a command reached a session's worker, in words the CLI and the app both use."""

from __future__ import annotations

from typing import Final

from tui_scraper.domain.location import StoreLocation

from . import CommandDelivery

# A worker that runs the session reads control records about twice a second; a pause or cancel
# the owner did not apply (it left; only joined workers remain) is taken over by a joined
# worker after a few seconds (CONTROL_TAKEOVER_S in the runtime, plus its poll). So a posted
# record is applied within this, by whichever worker of the session is alive.
CONTROL_APPLIED_WITHIN_S: Final = 5


def how_delivered(delivery: CommandDelivery, location: StoreLocation) -> str:
    """ "over the live channel", or by which control record and where."""
    if delivery.via == "channel":
        return "over the live channel"
    where = "in the database" if location.is_postgres else "in the data dir"
    return (
        f"by a control record (#{delivery.control_id}) {where}, since no live channel of "
        "its worker could be reached from here"
    )


def outcome_text(delivery: CommandDelivery) -> str:
    """What the worker said it did, or that the record waits for it (and for how long)."""
    if delivery.outcome:
        return delivery.outcome
    return f"recorded; the worker applies it within {CONTROL_APPLIED_WITHIN_S} s"
