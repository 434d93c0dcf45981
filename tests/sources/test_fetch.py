"""The fetcher against a loopback server that misbehaves on purpose."""

from __future__ import annotations

import asyncio

import pytest

from bot import USER_AGENT
from bot.errors import FetchError
from bot.sources.fetch import (
    Fetcher,
    FetchOptions,
    options_from_settings,
    parse_max_age,
    parse_retry_after,
)

from .conftest import MB, FeedServer, loopback_resolver


async def test_plain_fetch_sends_user_agent_and_returns_validators(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    result = await fetcher.fetch(feed_server.url("/feeds/rss20_liftoff.xml"))
    assert result.status == 200
    assert b"Liftoff News" in result.body
    assert result.etag and result.last_modified
    assert feed_server.user_agents == [USER_AGENT]
    assert "briefbot" in USER_AGENT and "https://" in USER_AGENT


async def test_etag_gives_304(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/feeds/rss20_liftoff.xml")
    first = await fetcher.fetch(url)
    second = await fetcher.fetch(url, etag=first.etag)
    assert second.not_modified and second.body == b""
    assert second.etag == first.etag


async def test_last_modified_gives_304(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/lm/rss20_liftoff.xml")
    first = await fetcher.fetch(url)
    assert first.etag is None
    second = await fetcher.fetch(url, last_modified=first.last_modified)
    assert second.not_modified


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_bodies_are_decoded(
    feed_server: FeedServer, fetcher: Fetcher, coding: str
) -> None:
    result = await fetcher.fetch(feed_server.url(f"/enc/{coding}/rss20_news.xml"))
    assert result.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')


async def test_redirects_are_followed_up_to_five(feed_server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(feed_server.url("/redirect/5"))
    assert result.final_url.endswith("/feeds/rss20_liftoff.xml")
    assert result.permanent_url is None  # 302s: keep polling the original URL


async def test_permanent_redirects_report_the_new_url(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    result = await fetcher.fetch(feed_server.url("/redirect/2?code=308"))
    assert result.permanent_url == feed_server.url("/feeds/rss20_liftoff.xml")
    assert result.final_url == result.permanent_url


async def test_six_redirects_are_too_many(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/redirect/6")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    assert caught.value.kind == "redirect"
    assert str(caught.value) == f"fetch: {url}: more than 5 redirects"


async def test_redirect_loop_is_detected(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/loop/a")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    assert caught.value.kind == "redirect"
    assert "redirect loop" in str(caught.value)
    assert feed_server.hits["/loop/a"] == 1 and feed_server.hits["/loop/b"] == 1


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (401, "unauthorized"),
        (403, "unauthorized"),
        (404, "not_found"),
        (410, "gone"),
        (500, "server"),
        (502, "server"),
        (503, "server"),
        (418, "http"),
    ],
)
async def test_statuses_are_classified(
    feed_server: FeedServer, fetcher: Fetcher, code: int, kind: str
) -> None:
    url = feed_server.url(f"/status/{code}")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    assert caught.value.kind == kind
    assert str(caught.value).startswith(f"fetch: {url}: HTTP {code}")
    assert caught.value.retry_after is None


@pytest.mark.parametrize("code", [429, 503])
async def test_retry_after_is_returned(
    feed_server: FeedServer, fetcher: Fetcher, code: int
) -> None:
    url = feed_server.url(f"/status/{code}?retry_after=120")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    assert caught.value.kind == "rate_limited"
    assert caught.value.retry_after == 120
    assert str(caught.value) == f"fetch: {url}: HTTP {code}, rate limited (retry after 120 s)"


async def test_fifty_megabytes_abort_at_the_cap(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/huge")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    assert caught.value.kind == "too_large"
    assert str(caught.value) == f"fetch: {url}: response larger than 10 MB, aborted"
    await asyncio.sleep(0.1)  # let the server notice the closed connection
    assert feed_server.bytes_sent["/huge"] < 30 * MB  # the client stopped reading


async def test_declared_length_over_the_cap_is_refused_before_reading(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(feed_server.url("/huge-declared"))
    assert caught.value.kind == "too_large"


async def test_gzip_bomb_is_capped_on_inflated_size(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(feed_server.url("/gzip-bomb"))
    assert caught.value.kind == "too_large"


async def test_endless_slow_body_hits_the_total_timeout(feed_server: FeedServer) -> None:
    url = feed_server.url("/slow")
    options = FetchOptions(allow_private_networks=True, total_timeout=0.5)
    async with Fetcher(options) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url)
    assert caught.value.kind == "timeout"
    assert str(caught.value) == f"fetch: {url}: timed out after 0.5 s"


async def test_connection_refused_is_a_connect_error(feed_server: FeedServer) -> None:
    async with Fetcher(FetchOptions(allow_private_networks=True)) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("http://127.0.0.1:9/feed")  # the discard port: closed
    assert caught.value.kind == "connect"
    assert str(caught.value).startswith("fetch: http://127.0.0.1:9/feed: cannot connect")


async def test_unknown_host_is_a_dns_error() -> None:
    options = FetchOptions(allow_private_networks=True)
    async with Fetcher(options, resolver=loopback_resolver()) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("http://nowhere.test/feed")
    assert caught.value.kind == "dns"
    assert "cannot resolve nowhere.test" in str(caught.value)


async def test_per_host_and_global_limits(feed_server: FeedServer) -> None:
    port = feed_server.base.rsplit(":", 1)[1]
    options = FetchOptions(allow_private_networks=True, per_host_limit=2, global_limit=3)
    async with Fetcher(options, resolver=loopback_resolver("a.test", "b.test")) as fetcher:
        urls = [f"http://{host}:{port}/busy/{i}" for host in ("a.test", "b.test") for i in range(6)]
        results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
    assert all(r.status == 200 for r in results)
    assert feed_server.max_in_flight["a.test"] == 2
    assert feed_server.max_in_flight["b.test"] == 2
    assert feed_server.max_total == 3


def test_retry_after_and_max_age_parsing() -> None:
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_max_age('public, max-age="600"') == 600
    assert parse_max_age("no-cache") is None


def test_options_from_settings() -> None:
    from bot.config import SourcesSection

    section = SourcesSection()
    options = options_from_settings(section)
    assert options.max_bytes == int(section.max_body_mb * MB)
    assert options.total_timeout == section.fetch_timeout_s
    assert options.per_host_limit == section.per_host_concurrency
    assert options.allow_private_networks is False
