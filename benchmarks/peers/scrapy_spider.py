"""Scrapy peer for benchmarks/run.py (used only when Scrapy is installed; untested otherwise).

    scrapy runspider benchmarks/peers/scrapy_spider.py -a start=URL

Follows every same-host link, as the other crawlers do. allowed_domains ignores the port,
which is harmless here: the benchmark site links to no other port.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy  # type: ignore[import-not-found]


class BenchSpider(scrapy.Spider):  # type: ignore[misc]
    name = "bench"
    custom_settings = {  # noqa: RUF012 (Scrapy's own convention)
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,  # no local control server
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": False,
    }

    def __init__(self, start: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.allowed_domains = [urlsplit(start).hostname]

    def parse(self, response: Any) -> Iterator[Any]:
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse)
