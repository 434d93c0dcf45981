"""The SSRF guard: what a feed URL may not reach when allow_private_networks is off."""

from __future__ import annotations

import pytest

from bot.errors import FetchError
from bot.sources.fetch import Fetcher, FetchOptions
from bot.sources.ssrf import check_url

from .conftest import FeedServer, loopback_resolver


@pytest.mark.parametrize(
    ("url", "kind", "words"),
    [
        ("http://127.0.0.1/feed.xml", "ssrf", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/", "ssrf", "169.254.169.254 is a link-local address"),
        ("http://[::1]/", "ssrf", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "ssrf", "loopback"),
        ("http://10.1.2.3:8080/rss", "ssrf", "private"),
        ("http://0.0.0.0/", "ssrf", "unspecified"),
        ("http://224.0.0.1/", "ssrf", "multicast"),
        ("http://240.0.0.1/", "ssrf", "reserved"),
        ("http://100.64.0.1/", "ssrf", "non-global"),
        ("http://[fd00::1]/", "ssrf", "private"),
        ("http://[fe80::1]/", "ssrf", "link-local"),
        ("file:///etc/passwd", "ssrf", "only http and https URLs can be fetched (file:)"),
        ("gopher://example.com/", "ssrf", "only http and https"),
        ("example.com/feed", "bad_url", "only http and https"),
        ("http:///nohost", "bad_url", "has no host"),
        ("http://example.com:99999/", "bad_url", "not a valid URL"),
    ],
)
async def test_refused_urls(url: str, kind: str, words: str) -> None:
    with pytest.raises(FetchError) as caught:
        await check_url(url, allow_private_networks=False, resolver=loopback_resolver())
    assert caught.value.kind == kind
    assert str(caught.value).startswith(f"fetch: {url}: ")
    assert words in str(caught.value)


async def test_refusal_message_says_how_to_allow() -> None:
    with pytest.raises(FetchError, match="set allow_private_networks = true"):
        await check_url("http://127.0.0.1/", allow_private_networks=False)


async def test_public_looking_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(FetchError) as caught:
        await check_url(
            "https://news.example.com/rss",
            allow_private_networks=False,
            resolver=loopback_resolver("news.example.com"),
        )
    assert caught.value.kind == "ssrf"
    assert "news.example.com resolves to 127.0.0.1 is a loopback address" in str(caught.value)


async def test_one_private_address_among_public_ones_is_enough() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    with pytest.raises(FetchError, match=r"10\.0\.0\.5 is a private"):
        await check_url("http://mixed.example/", allow_private_networks=False, resolver=mixed)


async def test_public_addresses_pass_and_the_switch_allows_private() -> None:
    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    await check_url("https://example.com/feed", allow_private_networks=False, resolver=public)
    await check_url("http://127.0.0.1/feed", allow_private_networks=True)
    await check_url("http://[::1]:8080/", allow_private_networks=True)


async def test_unresolvable_host_is_a_dns_error() -> None:
    with pytest.raises(FetchError) as caught:
        await check_url(
            "http://gone.test/", allow_private_networks=False, resolver=loopback_resolver()
        )
    assert caught.value.kind == "dns"


async def test_fetcher_refuses_loopback_without_connecting(feed_server: FeedServer) -> None:
    async with Fetcher(FetchOptions()) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(feed_server.url("/feeds/rss20_liftoff.xml"))
    assert caught.value.kind == "ssrf"
    assert sum(feed_server.hits.values()) == 0


async def test_fetcher_refuses_public_looking_name_mapped_to_loopback(
    feed_server: FeedServer,
) -> None:
    port = feed_server.base.rsplit(":", 1)[1]
    url = f"http://news.example.com:{port}/feeds/rss20_liftoff.xml"
    async with Fetcher(FetchOptions(), resolver=loopback_resolver("news.example.com")) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url)
    assert caught.value.kind == "ssrf"
    assert str(caught.value).startswith(f"fetch: {url}: refused, news.example.com resolves to")
    assert sum(feed_server.hits.values()) == 0


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/feeds/rss20_liftoff.xml",  # a literal private address
        "http://metadata.test/latest/meta-data/",  # a name resolving to 169.254.169.254
        "http://evil.test:{port}/feeds/rss20_liftoff.xml",  # a name resolving to loopback
    ],
)
async def test_redirect_from_allowed_host_to_private_address_is_refused(
    feed_server: FeedServer, target: str
) -> None:
    """The first host is let through by name (``trusted_hosts``, as for an intranet feed
    server) because the test has no public address to serve from; the guard stays on for
    every other host, so the redirect's target must be refused."""
    port = feed_server.base.rsplit(":", 1)[1]
    to = target.format(port=port)
    url = f"http://news.example.com:{port}/redirect-to?to={to}"
    options = FetchOptions(trusted_hosts=frozenset({"news.example.com"}))
    resolver = loopback_resolver("news.example.com", "evil.test")
    async with Fetcher(options, resolver=resolver) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url)
    assert caught.value.kind == "ssrf"
    assert str(caught.value).startswith(f"fetch: {url} (redirected to {to}): refused")
    assert feed_server.hits["/redirect-to"] == 1
    assert feed_server.hits["/feeds/rss20_liftoff.xml"] == 0


async def test_redirect_to_another_scheme_is_refused(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.url("/redirect-to?to=file:///etc/passwd")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    assert caught.value.kind == "ssrf"
    assert str(caught.value) == (
        f"fetch: {url} (redirected to file:///etc/passwd): "
        "only http and https URLs can be fetched (file:)"
    )
