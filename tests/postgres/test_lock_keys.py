"""Whether a lease lock is held is read from pg_locks, where any other advisory lock of the
database shows too: a key with its top bit set (a negative one, such as the hashtext() key a
control post holds) must not make that check fail."""

from __future__ import annotations

import psycopg

from tui_scraper.backends.postgres import Store

from .helpers import config, owner


async def test_a_negative_advisory_key_held_elsewhere_breaks_no_liveness_check(
    pg_url: str,
) -> None:
    store = await Store.open(pg_url)
    other = psycopg.connect(pg_url, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", (-(2**62) - 12345,))
        other.execute("SELECT pg_advisory_lock(hashtext('control:x')::bigint | (1::bigint << 63))")
        record = await store.create_session(config(), who="t")
        await store.acquire_run(record.id, owner(), who="t", reason="go")
        assert await store.lease_holder(record.id) is not None
        assert await store.reap_orphans(who="reaper") == []
        assert len(await store.claim_batch(record.id, 10, now=0)) == 1
        [(held,)] = other.execute("SELECT lease_lock_held(%s)", (-(2**62) - 12345,)).fetchall()
        assert held is True
    finally:
        other.close()
        await store.close()
