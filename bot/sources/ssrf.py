"""SSRF guard: a feed URL must not make the bot read from its own network.

Anyone who can `/briefing subscribe` can make the bot issue GET requests, so by default
we refuse non-http(s) schemes and any host that resolves to a loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved or unspecified
address, IPv4-mapped IPv6 included. Every resolved address is checked (one bad address
is enough to refuse), and the fetcher checks again on every redirect hop and inside the
connector, so neither a redirect nor a DNS answer that changes between check and connect
gets past it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from bot.errors import FetchError

# (host, port) -> IP address strings. Injected in tests to map public-looking names to
# 127.0.0.1 without DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver returns for ``host`` (A and AAAA)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_reason(address: IPAddress) -> str | None:
    """Why the bot must not connect to ``address``, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return forbidden_reason(mapped)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def ip_literal(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets and zone id allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def split_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an absolute http(s) URL, else ``FetchError(kind="bad_url")``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"fetch: {url}: not a valid URL ({exc})", kind="bad_url") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}:" if scheme else "no scheme"
        raise FetchError(
            f"fetch: {url}: only http and https URLs can be fetched ({shown})",
            kind="bad_url" if not scheme else "ssrf",
        )
    host = parts.hostname
    if not host:
        raise FetchError(f"fetch: {url}: the URL has no host", kind="bad_url")
    return scheme, host, port or (443 if scheme == "https" else 80)


def address_problem(host: str, addresses: list[str]) -> str | None:
    """Why ``host`` (resolved to ``addresses``) must not be fetched, or None when public."""
    if not addresses:
        return f"{host} has no address"
    for text in addresses:
        address = ip_literal(text)
        if address is None:
            return f"{host} resolved to {text!r}"
        reason = forbidden_reason(address)
        if reason is not None:
            shown = host if host == text else f"{host} resolves to {text}"
            return (
                f"refused, {shown} is a {reason} address "
                "(set allow_private_networks = true to allow it)"
            )
    return None


def check_addresses(url: str, host: str, addresses: list[str]) -> None:
    """Raise ``FetchError(kind="ssrf")`` when any of ``addresses`` is not public."""
    problem = address_problem(host, addresses)
    if problem is not None:
        raise FetchError(f"fetch: {url}: {problem}", kind="ssrf" if addresses else "dns")


async def resolve_checked(
    url: str, *, allow_private_networks: bool, resolver: Resolver | None = None
) -> list[str]:
    """Validate ``url`` and return its host's addresses; raise FetchError when refused."""
    _scheme, host, port = split_url(url)
    literal = ip_literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await (resolver or system_resolver)(host, port)
        except OSError as exc:
            raise FetchError(f"fetch: {url}: cannot resolve {host} ({exc})", kind="dns") from exc
    if not allow_private_networks:
        check_addresses(url, host, addresses)
    return addresses


async def check_url(
    url: str, *, allow_private_networks: bool, resolver: Resolver | None = None
) -> None:
    """Refuse URLs the bot must not fetch, with a message fit to show the user.

    Raises ``FetchError`` with ``kind="bad_url"`` (not a usable http(s) URL), ``"ssrf"``
    (another scheme, or a host that resolves to a non-public address) or ``"dns"`` (the
    host does not resolve). Call it when a feed is added; the fetcher calls it again on
    every request and redirect hop.
    """
    await resolve_checked(url, allow_private_networks=allow_private_networks, resolver=resolver)


class AddressRefused(Exception):
    """Raised inside aiohttp's connector; the fetcher turns it into ``FetchError("ssrf")``."""


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that checks what it returns, so connect uses checked addresses.

    Resolving once, here, leaves no gap between the check and the connection for a DNS
    answer that changes (rebinding).
    """

    def __init__(
        self, resolver: Resolver, allow_private_networks: bool, trusted_hosts: frozenset[str]
    ) -> None:
        self._resolver = resolver
        self._allow = allow_private_networks
        self._trusted = trusted_hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._resolver(host, port)
        if not self._allow and host not in self._trusted:
            problem = address_problem(host, addresses)
            if problem is not None:
                raise AddressRefused(problem)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None
