"""Storage backends: each implements the ports (tui_scraper.ports) over one database."""
