"""Checks a front end runs before it opens any service: the input is refused before a data dir
or a session exists, so bad input creates nothing.

They run where the front end runs (a remote service would be asked only once the input is known
to be good), which is why they are functions here and not methods of SessionService.
"""

from __future__ import annotations

from tui_scraper.runtime.preflight import INSECURE_WARNING, check_crawl_config, describe_own_fault

__all__ = ["INSECURE_WARNING", "check_crawl_config", "describe_own_fault"]
