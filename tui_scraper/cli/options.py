"""Crawl options and secret headers from the arguments, checked before anything is created."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..domain.config import (
    CrawlConfig,
    ExtractRule,
    validate_header_name,
    validate_header_value,
)
from ..safe_text import display_safe
from .errors import BadInput


def secret_headers_from_args(args: argparse.Namespace) -> dict[str, str]:
    """Every secret header of the command line, files and environment, checked: a value the
    HTTP client would refuse (CR/LF, beyond latin-1) would fail every page, so it is bad input."""
    specs: list[tuple[str, str]] = [("--header", spec) for spec in args.header]
    for name in args.header_file:
        specs += [(f"--header-file {name}", line) for line in _header_lines(_read_file(name))]
    for var in args.header_env:
        if var not in os.environ:
            raise BadInput(f"--header-env {var}: the environment variable is not set")
        specs += [(f"--header-env {var}", line) for line in _header_lines(os.environ[var])]
    headers: dict[str, str] = {}
    for where, spec in specs:
        name, sep, value = spec.partition(":")
        name = name.strip()
        if not sep or not name:
            raise BadInput(f"{where}: expected 'NAME: VALUE', got {display_safe(spec, 60)!r}")
        validate_header_name(where, name)
        headers[name] = validate_header_value(f"{where} {name}", value.strip())
    cookies = []
    for spec in args.cookie:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or ";" in spec:
            raise BadInput(
                f"--cookie {display_safe(name.strip() or spec, 60)!r}: expected NAME=VALUE"
            )
        validate_header_name("--cookie", name.strip())
        cookies.append(f"{name.strip()}={validate_header_value('--cookie', value.strip())}")
    if cookies:
        headers["Cookie"] = "; ".join(filter(None, [headers.get("Cookie"), *cookies]))
    return headers


def _read_file(name: str) -> str:
    try:
        with open(name, encoding="utf-8") as fh:
            return fh.read(1 << 20)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInput(f"--header-file {name}: {why}") from None


def _header_lines(text: str) -> list[str]:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def config_from_args(args: argparse.Namespace) -> CrawlConfig:
    download = tuple(t.strip() for t in args.download.split(",") if t.strip())
    config = CrawlConfig(
        target_url=args.url,
        max_pages=args.max_pages,
        max_depth=args.max_depth,
        concurrency=args.concurrency,
        per_host_concurrency=args.per_host,
        rate_per_host=args.rate,
        scope=args.scope,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        respect_robots=not args.ignore_robots,
        extract=tuple(ExtractRule.parse(spec) for spec in args.extract),
        download=download,
        retries=args.retries,
        request_timeout=args.timeout,
        max_body_bytes=args.max_body,
        allow_private=args.allow_private,
        ca_bundle=args.ca_bundle,
        trap_max_per_pattern=args.max_per_pattern,
        trap_max_param_values=args.max_param_values,
        insecure=args.insecure,
        **({"user_agent": args.user_agent} if args.user_agent else {}),
    )
    config.validate()
    # Imported here: these checks load the engine's HTML parser and TLS stack, the slow part
    # of starting, which `--help` and an argument refused earlier never need.
    from ..service.preflight import INSECURE_WARNING, check_crawl_config

    check_crawl_config(config)
    if config.ca_bundle is not None:
        # Stored absolute: a resume from another directory must find the same file.
        config = config.with_changes(ca_bundle=os.path.abspath(config.ca_bundle))
    if getattr(args, "warc", None):
        from ..warc_live import CONFIG_KEY, check_new_target

        # Stored absolute, like the CA bundle: a worker or a resume elsewhere writes the same file.
        target = str(check_new_target(Path(args.warc)))
        config = config.with_changes(extra={**config.extra, CONFIG_KEY: target})
    if config.insecure:
        print(INSECURE_WARNING, file=sys.stderr)
    return config
