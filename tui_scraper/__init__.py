"""tui-scraper: web crawls as durable sessions, in a terminal."""

__version__ = "0.1.0"
