"""The crawl engine: fetch, decode, parse, scope, politeness and the crawler loop.

Never imports the UI.
"""
