"""What a crawl session is asked to do, and the validation of every option.

Plain data: no I/O, no third-party imports. CSS selectors are checked by
`tui_scraper.engine.extract.validate_rules`, which needs the parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .ids import is_session_id

SCOPES = ("host", "domain", "any")
DEFAULT_USER_AGENT = "tui-scraper/0.1 (+https://github.com/tui-scraper)"
_RULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# The fields every page gets (`crawl.extract.default_fields`). A user rule of the same name would
# replace a built-in string with its list of matches, silently changing the field's type.
BUILTIN_FIELDS = ("title", "description", "h1", "canonical", "lang", "word_count", "outlinks")
# The trap guard's default limits (engine/traps.py): URLs per URL pattern, and distinct values
# per query parameter of a host. Far above what a real site needs, far below forever.
DEFAULT_MAX_PER_PATTERN = 10_000
DEFAULT_MAX_PARAM_VALUES = 1_000
_MIME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.+-]*/(\*|[a-z0-9][a-z0-9.+-]*)$")


@dataclass(frozen=True)
class ExtractRule:
    """`NAME=CSS` (text of every match) or `NAME=CSS@attr` (that attribute of every match)."""

    name: str
    css: str
    attr: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ExtractRule:
        name, sep, rest = spec.partition("=")
        name = name.strip()
        if not sep or not rest.strip():
            raise_config("extract", f"{spec!r} is not NAME=CSS or NAME=CSS@attr")
        if not _RULE_NAME.match(name):
            raise_config("extract", f"rule name {name!r} must be letters, digits, _ or -")
        css, at, attr = rest.rpartition("@")
        # "a[href^='mailto:x@y']" has an @ inside brackets: only split on a trailing @word.
        if at and re.fullmatch(r"[A-Za-z_:][-A-Za-z0-9_:.]*", attr) and css.strip():
            return cls(name=name, css=css.strip(), attr=attr)
        return cls(name=name, css=rest.strip(), attr=None)

    def spec(self) -> str:
        return f"{self.name}={self.css}" + (f"@{self.attr}" if self.attr else "")


def raise_config(field_name: str, message: str) -> NoReturn:
    from .errors import ConfigError

    raise ConfigError(field_name, message)


@dataclass(frozen=True)
class CrawlConfig:
    target_url: str
    max_pages: int | None = None
    max_depth: int | None = None
    concurrency: int = 16
    per_host_concurrency: int = 4
    rate_per_host: float | None = None
    scope: str = "host"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    respect_robots: bool = True
    extract: tuple[ExtractRule, ...] = ()
    download: tuple[str, ...] = ()
    retries: int = 3
    request_timeout: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    allow_private: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    # TLS: a PEM file of extra CAs to trust (a local CA), or no verification at all (warned).
    ca_bundle: str | None = None
    insecure: bool = False
    # Trap guard (0: no limit); configs stored before these fields existed get the defaults.
    trap_max_per_pattern: int = DEFAULT_MAX_PER_PATTERN
    trap_max_param_values: int = DEFAULT_MAX_PARAM_VALUES
    # A recrawl: the session whose stored pages are asked about with conditional requests
    # (engine/recrawl.py). None for an ordinary crawl.
    recrawl_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def with_changes(self, **changes: Any) -> CrawlConfig:
        return replace(self, **changes)

    def to_json(self) -> str:
        data = asdict(self)
        data["extract"] = [rule.spec() for rule in self.extract]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CrawlConfig:
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in data.items() if k in known}
        data["extract"] = tuple(ExtractRule.parse(s) for s in data.get("extract", ()))
        for key in ("include", "exclude", "download"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)

    def validate(self) -> CrawlConfig:
        """Raise ConfigError naming the first bad option; return self when all are fine.

        Every number has a range, not just a sign: a value that is "valid" but absurd (a rate of
        1e-300 requests per second, a 10**30 page budget) makes a crawl that silently never
        progresses, which is worse than a refusal. The UI form calls this too.
        """
        validate_url(self.target_url)
        for name, value in (
            ("max-pages", self.max_pages),
            ("max-depth", self.max_depth),
            ("concurrency", self.concurrency),
            ("per-host", self.per_host_concurrency),
            ("retries", self.retries),
            ("max-body", self.max_body_bytes),
        ):
            _whole_in_range(name, value)
        if self.rate_per_host is not None:
            _number_in_range("rate", self.rate_per_host, "positive number of requests per second")
        _number_in_range("timeout", self.request_timeout, "number of seconds")
        if self.scope not in SCOPES:
            raise_config("scope", f"must be one of {', '.join(SCOPES)}")
        for name, patterns in (("include", self.include), ("exclude", self.exclude)):
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise_config(name, f"bad regular expression {pattern!r}: {exc}")
        names = [rule.name for rule in self.extract]
        if len(set(names)) != len(names):
            raise_config("extract", "rule names must be unique")
        for name in names:
            if name.lower() in BUILTIN_FIELDS:
                raise_config(
                    "extract",
                    f"{name!r} is a built-in field of every page "
                    f"({', '.join(BUILTIN_FIELDS)}); give the rule another name, "
                    f"e.g. my_{name.lower()}",
                )
        for pattern in self.download:
            if not _MIME_PATTERN.match(pattern):
                raise_config(
                    "download", f"{pattern!r} is not a type like image/* or application/pdf"
                )
        _whole_in_range("max-per-pattern", self.trap_max_per_pattern)
        _whole_in_range("max-param-values", self.trap_max_param_values)
        if self.insecure and self.ca_bundle:
            raise_config("insecure", "--insecure verifies nothing: it cannot go with --ca-bundle")
        validate_header_value("user-agent", self.user_agent)
        if self.recrawl_of is not None and not is_session_id(self.recrawl_of):
            raise_config("recrawl-of", f"{self.recrawl_of!r} is not a session id")
        return self


# option -> (lowest, highest) accepted. `None` (no limit) stays allowed where the field is
# optional; the bounds are what a single crawl on one machine can sensibly use.
BOUNDS: dict[str, tuple[float, float]] = {
    "max-pages": (1, 1_000_000_000),
    "max-depth": (0, 10_000),
    "concurrency": (1, 512),
    "per-host": (1, 64),
    "retries": (0, 20),
    "max-body": (1024, 4 * 1024**3),
    "rate": (0.01, 1000.0),
    "timeout": (0.1, 3600.0),
    # 0 turns a trap guard off.
    "max-per-pattern": (0, 1_000_000_000),
    "max-param-values": (0, 1_000_000_000),
}
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def validate_header_name(field_name: str, name: str) -> str:
    """An HTTP field name is a token (RFC 9110 5.1): no spaces, colons or controls."""
    if not _HEADER_NAME.match(name):
        raise_config(field_name, f"{name!r} is not a valid header name")
    return name


def validate_header_value(field_name: str, value: str) -> str:
    """What an HTTP/1.1 field value may hold (RFC 9110 5.5): tab, space, visible ASCII and
    latin-1 bytes. CR/LF would split the request (and the HTTP client refuses them, so every
    page would fail); anything past latin-1 cannot be encoded on the wire at all."""
    for ch in value:
        code = ord(ch)
        if code > 0xFF:
            raise_config(field_name, f"contains {ch!r}, which cannot be sent in a header")
        if (code < 0x20 and ch != "\t") or 0x7F <= code < 0xA0:
            raise_config(field_name, f"contains the control character {ch!r}")
    return value


def _whole_in_range(name: str, value: int | None) -> None:
    if value is None and name in ("max-pages", "max-depth"):
        return
    low, high = BOUNDS[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise_config(name, f"must be a whole number of at least {_n(low)}")
    if value > high:
        raise_config(name, f"must be at most {_n(high)}")


def _number_in_range(name: str, value: float, what: str) -> None:
    low, high = BOUNDS[name]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    # NaN compares false to everything, so this also refuses it.
    if not ok or not low <= value <= high:
        raise_config(name, f"must be a {what} from {_n(low)} to {_n(high)}")


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def validate_url(url: str) -> str:
    if not url or not url.strip():
        raise_config("url", "a start URL is required")
    if any(ch.isspace() for ch in url.strip()):
        raise_config("url", f"{url!r} contains whitespace")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise_config("url", f"{url!r} is not a valid URL: {exc}")
        raise  # unreachable; keeps type checkers calm
    if parts.scheme.lower() not in ("http", "https"):
        raise_config("url", f"{url!r}: only http and https URLs can be crawled")
    if not parts.hostname:
        raise_config("url", f"{url!r} has no host")
    if port == 0:
        raise_config("url", f"{url!r} has port 0")
    return url.strip()
