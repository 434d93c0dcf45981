"""HTTP fetching for feeds and article pages: polite, bounded and SSRF-safe.

One ``Fetcher`` per process wraps one aiohttp session. It sends conditional GETs, caps
the (decompressed) body while streaming it, follows at most five redirects itself so the
SSRF guard sees every hop, limits concurrency per host and overall, and turns every
failure into a ``FetchError`` whose ``kind`` is one stable word (see ``Kind``) chosen in
one place, ``classify_exception`` / ``classify_status``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import aiohttp

from bot import USER_AGENT
from bot.errors import FetchError, ParseError
from bot.sources.ssrf import (
    AddressRefused,
    GuardedResolver,
    Resolver,
    ip_literal,
    resolve_checked,
    split_url,
    system_resolver,
)

if TYPE_CHECKING:
    from bot.config import SourcesSection

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


class Kind(StrEnum):
    """Stable failure kinds, stored as ``last_error`` kind and used for backoff."""

    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    UNAUTHORIZED = "unauthorized"  # 401, 403
    NOT_FOUND = "not_found"  # 404
    GONE = "gone"  # 410: stop polling
    RATE_LIMITED = "rate_limited"  # 429, or 503 with Retry-After
    SERVER = "server"  # 5xx
    HTTP = "http"  # any other unexpected status
    REDIRECT = "redirect"  # a loop, too many hops, or a redirect without Location
    TOO_LARGE = "too_large"
    NOT_A_FEED = "not_a_feed"
    SSRF = "ssrf"
    BAD_URL = "bad_url"


#: Failures that may pass by themselves: a feed that fails so is kept and retried.
TRANSIENT = frozenset({Kind.DNS, Kind.CONNECT, Kind.TIMEOUT, Kind.RATE_LIMITED, Kind.SERVER})


def is_transient(kind: str) -> bool:
    return kind in TRANSIENT


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """Limits of one fetcher; ``allow_private_networks`` is for tests and trusted setups."""

    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    per_host_limit: int = 2
    global_limit: int = 32
    allow_private_networks: bool = False
    # Exact host names exempt from the address check (an intranet feed server); the
    # check still applies to every other host, redirect targets included.
    trusted_hosts: frozenset[str] = frozenset()
    user_agent: str = USER_AGENT


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A 200 (``body`` set) or a 304 (``not_modified``, empty body)."""

    url: str
    final_url: str
    status: int
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    max_age: int | None = None
    permanent_url: str | None = None  # set when every hop was a 301/308: store the new URL

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def options_from_settings(sources: SourcesSection) -> FetchOptions:
    """The fetcher's limits from the ``[sources]`` section of the settings."""
    total = float(sources.fetch_timeout_s)
    return FetchOptions(
        connect_timeout=min(10.0, total),
        total_timeout=total,
        max_bytes=int(sources.max_body_mb * 1024 * 1024),
        per_host_limit=sources.per_host_concurrency,
        global_limit=sources.global_concurrency,
        allow_private_networks=sources.allow_private_networks,
        trusted_hosts=frozenset(getattr(sources, "trusted_hosts", ())),
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_max_age(cache_control: str | None) -> int | None:
    """``max-age`` seconds from a Cache-Control header, if any."""
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return int(match.group(1)) if match else None


def classify_status(url: str, status: int, headers: Mapping[str, str]) -> FetchError:
    """The one mapping from an unwanted HTTP status to a FetchError kind."""
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status in (401, 403):
        kind, what = Kind.UNAUTHORIZED, "access denied"
    elif status == 404:
        kind, what = Kind.NOT_FOUND, "not found"
    elif status == 410:
        kind, what = Kind.GONE, "gone for good, polling stops"
    elif status == 429 or (status == 503 and retry_after is not None):
        kind, what = Kind.RATE_LIMITED, "rate limited"
    elif 500 <= status < 600:
        kind, what = Kind.SERVER, "server error"
    else:
        kind, what = Kind.HTTP, "unexpected status"
    message = f"fetch: {url}: HTTP {status}, {what}"
    if retry_after is not None:
        message += f" (retry after {retry_after:.0f} s)"
    return FetchError(message, kind=kind.value, retry_after=retry_after)


def classify_exception(url: str, exc: BaseException, *, total_timeout: float) -> FetchError:
    """The one mapping from a library exception to a FetchError kind and message."""
    if isinstance(exc, FetchError):
        return exc
    kind: Kind
    if isinstance(exc, ParseError):
        kind, detail = Kind.NOT_A_FEED, str(exc).removeprefix("parse: ")
        return FetchError(f"fetch: {detail}" if url in detail else f"fetch: {url}: {detail}", kind)
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError and aiohttp's timeouts
        return FetchError(f"fetch: {url}: timed out after {total_timeout:g} s", Kind.TIMEOUT.value)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        kind, detail = Kind.DNS, f"cannot resolve {exc.host}"
    elif isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        kind, detail = Kind.TLS, f"TLS failed ({exc})"
    elif isinstance(exc, ssl.SSLError):
        kind, detail = Kind.TLS, f"TLS failed ({exc.reason or exc})"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, socket.gaierror):
            kind, detail = Kind.DNS, f"cannot resolve {exc.host}"
        else:
            kind, detail = Kind.CONNECT, f"cannot connect ({exc.os_error.strerror or exc})"
    elif isinstance(exc, aiohttp.InvalidURL | ValueError | UnicodeError):
        kind, detail = Kind.BAD_URL, f"not a valid URL ({exc})"
    elif isinstance(exc, aiohttp.ClientResponseError):
        return classify_status(url, exc.status, exc.headers or {})
    elif isinstance(exc, aiohttp.ClientError | OSError):
        kind, detail = Kind.CONNECT, f"connection failed ({type(exc).__name__}: {exc})"
    else:
        kind, detail = Kind.CONNECT, f"unexpected {type(exc).__name__}: {exc}"
    return FetchError(f"fetch: {url}: {detail}", kind.value)


class Fetcher:
    """Bounded HTTP GETs with one shared session; use as ``async with Fetcher(...)``."""

    def __init__(self, options: FetchOptions | None = None, *, resolver: Resolver | None = None):
        self.options = options or FetchOptions()
        self._resolver = resolver or system_resolver
        self._session: aiohttp.ClientSession | None = None
        self._global = asyncio.Semaphore(self.options.global_limit)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            opts = self.options
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(
                    self._resolver, opts.allow_private_networks, opts.trusted_hosts
                ),
                limit=opts.global_limit,
                limit_per_host=opts.per_host_limit,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": opts.user_agent, "Accept-Encoding": "gzip, deflate"},
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=opts.connect_timeout, sock_connect=opts.connect_timeout
                ),
                trust_env=False,
            )
        return self._session

    def _host_limit(self, host: str) -> asyncio.Semaphore:
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self.options.per_host_limit)
        return self._hosts[host]

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GET ``url`` (conditionally when validators are given); raise ``FetchError``.

        Returns a 200 with its body or a 304. The total timeout covers every hop and the
        whole body. Redirects are followed here, not by aiohttp, so each hop is checked.
        """
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.options.total_timeout):
                return await self._follow(url, etag, last_modified, accept)
        except Exception as exc:
            error = classify_exception(url, exc, total_timeout=self.options.total_timeout)
            log.info(
                "fetch failed feed_url=%s kind=%s after=%.2fs: %s",
                url,
                error.kind,
                time.monotonic() - started,
                error,
            )
            raise error from exc

    async def _follow(
        self, url: str, etag: str | None, last_modified: str | None, accept: str
    ) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = {url}
        current, permanent = url, True
        for _hop in range(self.options.max_redirects + 1):
            host = await self._check_hop(url, current)
            # Host slot first: waiting for a busy host must not hold a global slot.
            async with self._host_limit(host.lower()), self._global:
                try:
                    status, location, result = await self._get(url, current, headers)
                except AddressRefused as exc:
                    shown = url if current == url else f"{url} (redirected to {current})"
                    raise FetchError(f"fetch: {shown}: {exc}", Kind.SSRF.value) from None
            if result is not None:
                if permanent and current != url:
                    result = dataclasses.replace(result, permanent_url=result.final_url)
                return result
            if location is None:
                raise FetchError(
                    f"fetch: {url}: HTTP {status} redirect without Location", Kind.REDIRECT.value
                )
            permanent = permanent and status in (301, 308)
            nxt = urljoin(current, location)
            if nxt in seen:
                raise FetchError(f"fetch: {url}: redirect loop at {nxt}", Kind.REDIRECT.value)
            seen.add(nxt)
            current = nxt
        raise FetchError(
            f"fetch: {url}: more than {self.options.max_redirects} redirects", Kind.REDIRECT.value
        )

    async def _check_hop(self, url: str, current: str) -> str:
        """Refuse a bad scheme or a literal non-public address before connecting.

        Host names are checked inside the connector, on the addresses it will use.
        Returns the hop's host.
        """
        try:
            _scheme, host, _port = split_url(current)
            if ip_literal(host) is not None and host not in self.options.trusted_hosts:
                await resolve_checked(
                    current, allow_private_networks=self.options.allow_private_networks
                )
        except FetchError as exc:
            if current == url:
                raise
            detail = str(exc).split(": ", 2)[-1]
            raise FetchError(
                f"fetch: {url} (redirected to {current}): {detail}", exc.kind
            ) from None
        return host

    async def _get(
        self, url: str, current: str, headers: dict[str, str]
    ) -> tuple[int, str | None, FetchResult | None]:
        """One hop: (status, Location, None) for a redirect, else (status, None, result)."""
        session = self._get_session()
        async with session.get(current, headers=headers, allow_redirects=False) as resp:
            if resp.status in _REDIRECTS:
                return resp.status, resp.headers.get("Location"), None
            if resp.status == 304:
                return 304, None, self._result(url, current, resp, b"")
            if not 200 <= resp.status < 300:
                raise classify_status(url, resp.status, resp.headers)
            body = await self._read_capped(url, resp)
            return resp.status, None, self._result(url, current, resp, body)

    async def _read_capped(self, url: str, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.options.max_bytes
        too_large = FetchError(
            f"fetch: {url}: response larger than {cap / 1_048_576:g} MB, aborted",
            Kind.TOO_LARGE.value,
        )
        if resp.content_length is not None and resp.content_length > cap:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _result(url: str, current: str, resp: aiohttp.ClientResponse, body: bytes) -> FetchResult:
        headers: Any = resp.headers
        return FetchResult(
            url=url,
            final_url=current,
            status=resp.status,
            body=body,
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            content_type=headers.get("Content-Type"),
            max_age=parse_max_age(headers.get("Cache-Control")),
        )
