"""`python -m tui_scraper.demo [--port N]`: serve the demo site until Ctrl-C (for manual tests)."""

from __future__ import annotations

import argparse
import time

from .server import start_in_thread


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tui_scraper.demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    url, stop = start_in_thread(args.host, args.port)
    print(f"demo site at {url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()


if __name__ == "__main__":
    main()
