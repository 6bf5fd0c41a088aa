"""The crawl engine: fetching, decoding, parsing, scope, politeness and the crawler loop. Never imports the UI."""
