"""Address policy (T15): classification table, odd spellings, seeds."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tui_scraper.engine import addresses
from tui_scraper.engine.addresses import (
    AddressPolicy,
    AddressRefused,
    ResolveFailed,
    check_host,
    classify,
    seed_allows_private,
    seed_allows_private_async,
)


@pytest.mark.parametrize(
    ("ip", "klass"),
    [
        ("93.184.216.34", "global"),
        ("2606:4700::1111", "global"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # CGNAT: not global
        ("fd00::1", "private"),
        ("169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("fe80::1%eth0", "link_local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),  # 0/8 reaches the local host on Linux
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        # IPv4 inside IPv6: classified by where the packets go.
        ("::ffff:169.254.169.254", "link_local"),
        ("[::ffff:169.254.169.254]", "link_local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:8.8.8.8", "global"),
        ("2002:a9fe:a9fe::1", "link_local"),  # 6to4 of 169.254.169.254
        ("2002:0a00:0001::1", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:5601:5601", "link_local"),  # Teredo, client 169.254.169.254
    ],
)
def test_classification_table(ip: str, klass: str) -> None:
    assert classify(ip) == klass


@pytest.mark.parametrize(
    ("host", "klass"),
    [
        ("2852039166", "link_local"),  # decimal 169.254.169.254
        ("0xA9.0xFE.0xA9.0xFE", "link_local"),  # hex dotted
        ("0xa9fea9fe", "link_local"),
        ("169.254.43518", "link_local"),
        ("[::ffff:169.254.169.254]", "link_local"),
        ("::ffff:a9fe:a9fe", "link_local"),
        ("0", "unspecified"),
        ("[::]", "unspecified"),
    ],
)
async def test_odd_spellings_always_refused(host: str, klass: str) -> None:
    policy = AddressPolicy(allow_private=True)
    with pytest.raises(AddressRefused) as ei:
        await policy.check(host)
    assert ei.value.klass == klass
    with pytest.raises(AddressRefused):
        await check_host(host, allow_private=True)


@pytest.mark.parametrize("host", ["127.1", "127.0.0.1", "localhost", "[::1]", "0x7f.1"])
async def test_loopback_only_when_allowed(host: str) -> None:
    with pytest.raises(AddressRefused) as ei:
        await check_host(host, allow_private=False)
    assert ei.value.klass == "loopback"
    try:
        await check_host(host, allow_private=True)
    except ResolveFailed:  # [::1] on a host without IPv6
        pytest.skip("no IPv6 loopback here")


def _fake_getaddrinfo(table: dict[str, list[str]]) -> Any:
    async def fake(host: str, port: Any, **kw: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for ip in table[host]:
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            sa = (ip, 0, 0, 0) if fam == socket.AF_INET6 else (ip, 0)
            out.append((fam, socket.SOCK_STREAM, 6, "", sa))
        return out

    return fake


async def test_names_resolving_to_bad_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    table = {
        "metadata.example": ["169.254.169.254"],
        "mixed.example": ["93.184.216.34", "10.0.0.1"],
        "intranet.example": ["10.0.0.5"],
        "public.example": ["93.184.216.34", "2606:4700::1111"],
    }
    calls: list[str] = []
    fake = _fake_getaddrinfo(table)

    async def counting(host: str, port: Any, **kw: Any) -> list[Any]:
        calls.append(host)
        result: list[Any] = await fake(host, port, **kw)
        return result

    monkeypatch.setattr(loop, "getaddrinfo", counting)
    strict = AddressPolicy(allow_private=False)
    loose = AddressPolicy(allow_private=True)
    for policy in (strict, loose):
        with pytest.raises(AddressRefused):
            await policy.check("metadata.example")
    with pytest.raises(AddressRefused):  # any refused address refuses the name
        await strict.check("mixed.example")
    with pytest.raises(AddressRefused):
        await strict.check("intranet.example")
    assert await loose.check("intranet.example") == [(socket.AF_INET, "10.0.0.5")]
    assert len(await strict.check("public.example")) == 2
    with pytest.raises(ResolveFailed):
        await strict.check("nxdomain.example")

    # Cached per policy (the fetcher's life), refusals included; failures are not cached.
    n = len(calls)
    await strict.check("public.example")
    with pytest.raises(AddressRefused):
        await strict.check("metadata.example")
    assert len(calls) == n
    with pytest.raises(ResolveFailed):
        await strict.check("nxdomain.example")
    assert len(calls) == n + 1

    # Concurrent first lookups of one host share one getaddrinfo.
    fresh = AddressPolicy(allow_private=False)
    calls.clear()
    await asyncio.gather(*(fresh.check("public.example") for _ in range(20)))
    assert calls == ["public.example"]

    # As aiohttp's resolver, it returns only the checked addresses, with the port.
    res = await strict.resolve("public.example", 8080, socket.AF_UNSPEC)
    assert {(r["host"], r["port"]) for r in res} == {
        ("93.184.216.34", 8080),
        ("2606:4700::1111", 8080),
    }
    with pytest.raises(AddressRefused):
        await strict.resolve("metadata.example", 80, socket.AF_UNSPEC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/", True),
        ("http://127.1/", True),
        ("http://localhost/x", True),
        ("http://10.0.0.1/", True),
        ("http://[::1]/", True),
        ("http://169.254.169.254/", False),  # link-local is never allowed anyway
        ("http://8.8.8.8/", False),
        ("http://0/", False),
        ("not a url", False),
        ("http://no-such-host.invalid/", False),
    ],
)
async def test_seed_allows_private(url: str, expected: bool) -> None:
    assert seed_allows_private(url) is expected
    assert await seed_allows_private_async(url) is expected


def test_public_api() -> None:
    assert {"classify", "check_host", "seed_allows_private", "AddressRefused"} <= set(
        addresses.__all__
    )
