"""The live channel of a running session: newline-delimited JSON over a private Unix socket.

`protocol` says what goes over the wire, `paths` where the socket lives, `server` is the
worker's side. The client side lives in the service (`tui_scraper.service.channel_client`).
"""
