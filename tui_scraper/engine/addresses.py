"""Address policy: which IP addresses the crawler may connect to.

A string blocklist on URLs is not enough: getaddrinfo accepts `2852039166`, `0xA9.0xFE.0xA9.0xFE`,
`127.1` and `0`, and `::ffff:169.254.169.254` is not `is_link_local` in Python 3.11 although the
IPv4 address inside it is. So we resolve every host exactly as the connection would, unwrap
embedded IPv4 addresses, and classify each result.

`AddressPolicy.resolve` doubles as the aiohttp resolver of the fetcher's connector, so the
connection goes to the very addresses that were checked (no DNS-rebinding window between the
check and the connect).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver as _ResolverBase
    from aiohttp.abc import ResolveResult
else:
    # aiohttp's connector calls its resolver's `resolve` and `close` and checks no type: the
    # base is for the type checker only, so the crawl's coordinator, which checks seed
    # addresses but fetches nothing, never loads aiohttp.
    _ResolverBase = object

__all__ = [
    "ALWAYS_REFUSED",
    "PRIVATE_CLASSES",
    "AddressPolicy",
    "AddressRefused",
    "ResolveFailed",
    "check_host",
    "classify",
    "seed_allows_private",
    "seed_allows_private_async",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never connected to, whatever the user says: cloud metadata lives on link-local, and
# unspecified/multicast/reserved addresses have no business in a crawl.
ALWAYS_REFUSED: Final = frozenset({"link_local", "unspecified", "multicast", "reserved"})
# Allowed only when the seed is itself in one of these classes or with --allow-private.
PRIVATE_CLASSES: Final = frozenset({"loopback", "private"})

_THIS_NETWORK: Final = ipaddress.IPv4Network("0.0.0.0/8")  # Linux routes 0.x.y.z to the local host
_BROADCAST: Final = ipaddress.IPv4Address("255.255.255.255")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(Exception):
    """The host is, or resolves to, an address the policy forbids. Permanent."""

    def __init__(self, host: str, address: str, klass: str) -> None:
        self.host = host
        self.address = address
        self.klass = klass
        shown = host if host == address else f"{host} ({address})"
        super().__init__(f"address refused: {shown} is {klass.replace('_', '-')}")


class ResolveFailed(Exception):
    """The host name did not resolve. Transient: the network or DNS may come back."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        super().__init__(f"cannot resolve {host}: {reason}")


def _parse(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, str):
        text = ip.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        text = text.split("%", 1)[0]  # zone id (fe80::1%eth0)
        return ipaddress.ip_address(text)
    return ip


def classify(ip: str | IPAddress) -> str:
    """Class of one address: global, private, loopback, link_local, unspecified, multicast or
    reserved. IPv4 addresses embedded in IPv6 ones (mapped, 6to4, Teredo, NAT64) are classified
    by the IPv4 address, which is where the packets end up."""
    addr = _parse(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        inner: ipaddress.IPv4Address | None = addr.ipv4_mapped or addr.sixtofour
        if inner is None and addr.teredo is not None:
            inner = addr.teredo[1]
        if inner is None and addr in _NAT64:
            inner = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if inner is not None:
            return classify(inner)
    if addr.is_unspecified or (isinstance(addr, ipaddress.IPv4Address) and addr in _THIS_NETWORK):
        return "unspecified"
    if addr.is_link_local:
        return "link_local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_loopback:
        return "loopback"
    if addr.is_reserved or addr == _BROADCAST:
        return "reserved"
    # Not global covers RFC 1918, ULA, CGNAT (100.64/10), documentation and benchmark ranges.
    if addr.is_private or not addr.is_global:
        return "private"
    return "global"


def _refusal(klass: str, allow_private: bool) -> bool:
    return klass in ALWAYS_REFUSED or (klass in PRIVATE_CLASSES and not allow_private)


def _bare_host(host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


class AddressPolicy(_ResolverBase):
    """Resolves and checks hosts, caching results for the life of one fetcher.

    Refused addresses are cached as refusals; failed lookups are not cached (the network may come
    back). A name that resolves to several addresses is refused if any one of them is refused:
    the connection could pick any of them.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._cache: dict[str, list[tuple[int, str]] | AddressRefused] = {}
        self._inflight: dict[str, asyncio.Future[list[tuple[int, str]]]] = {}

    async def check(self, host: str) -> list[tuple[int, str]]:
        """Return the (family, address) pairs for host, or raise AddressRefused / ResolveFailed."""
        hit = self._cache.get(host)
        if hit is not None:
            if isinstance(hit, AddressRefused):
                raise hit
            return hit
        fut = self._inflight.get(host)
        if fut is not None:
            # Concurrent first requests to one host share one lookup.
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[host] = fut
        try:
            result = await self._lookup(host)
        except BaseException as exc:
            if isinstance(exc, AddressRefused):
                self._cache[host] = exc
            if not fut.done():
                fut.set_exception(
                    exc if isinstance(exc, Exception) else ResolveFailed(host, "cancelled")
                )
                fut.exception()  # mark retrieved: nobody may be waiting
            raise
        else:
            self._cache[host] = result
            fut.set_result(result)
            return result
        finally:
            del self._inflight[host]

    async def _lookup(self, host: str) -> list[tuple[int, str]]:
        bare = _bare_host(host)
        try:
            literal: IPAddress | None = _parse(bare)
        except ValueError:
            literal = None
        if literal is not None:
            klass = classify(literal)
            if _refusal(klass, self.allow_private):
                raise AddressRefused(host, str(literal), klass)
            fam = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            return [(fam, str(literal))]
        try:
            # The same resolver the connection uses, so odd numeric spellings resolve the same way.
            infos = await asyncio.get_running_loop().getaddrinfo(
                bare, None, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise ResolveFailed(host, str(exc) or type(exc).__name__) from None
        out: list[tuple[int, str]] = []
        for family, _type, _proto, _canon, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = str(sockaddr[0]).split("%", 1)[0]
            klass = classify(address)
            if _refusal(klass, self.allow_private):
                raise AddressRefused(host, address, klass)
            pair = (int(family), address)
            if pair not in out:
                out.append(pair)
        if not out:
            raise ResolveFailed(host, "no usable address")
        return out

    # -- aiohttp resolver interface: connections go only to checked addresses ---------------
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pairs = await self.check(host)
        results: list[ResolveResult] = [
            {  # a TypedDict: a plain dict at run time
                "hostname": host,
                "host": address,
                "port": port,
                "family": fam,
                "proto": socket.IPPROTO_TCP,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for fam, address in pairs
            if family == socket.AF_UNSPEC or fam == family
        ]
        if not results:
            # aiohttp asks for AF_UNSPEC by default; an explicit family mismatch is a DNS failure.
            raise OSError(f"no address of the requested family for {host}")
        return results

    async def close(self) -> None:
        self._cache.clear()


async def check_host(
    host: str, *, allow_private: bool, policy: AddressPolicy | None = None
) -> None:
    """Raise AddressRefused (permanent) or ResolveFailed (transient) unless host may be fetched.

    Pass the fetcher's `policy` to use its per-client cache; without one the lookup is uncached.
    """
    if policy is None:
        policy = AddressPolicy(allow_private=allow_private)
    elif policy.allow_private != allow_private:
        raise ValueError("policy.allow_private differs from allow_private")
    await policy.check(host)


def _seed_host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host or None


def _any_private(addresses: list[str]) -> bool:
    classes = [classify(a) for a in addresses]
    return bool(classes) and any(c in PRIVATE_CLASSES for c in classes)


def seed_allows_private(url: str) -> bool:
    """True when the seed URL's host is, or resolves to, a loopback/private address: crawling
    your own intranet or 127.0.0.1 is then what the user asked for. Blocking (one getaddrinfo);
    call it once at session creation, or use `seed_allows_private_async` inside a loop."""
    host = _seed_host(url)
    if host is None:
        return False
    try:
        return (
            _any_private([_bare_host(host)])
            if _is_literal(host)
            else _any_private(
                [
                    str(i[4][0]).split("%", 1)[0]
                    for i in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
                ]
            )
        )
    except (OSError, UnicodeError, ValueError):
        return False


async def seed_allows_private_async(url: str) -> bool:
    host = _seed_host(url)
    if host is None:
        return False
    if _is_literal(host):
        return _any_private([_bare_host(host)])
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return _any_private([str(i[4][0]).split("%", 1)[0] for i in infos])


def _is_literal(host: str) -> bool:
    try:
        _parse(_bare_host(host))
    except ValueError:
        return False
    return True
