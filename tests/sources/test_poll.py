"""The poll cycle: state in, drafts and new state out, against the misbehaving server."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

import pytest

from bot.sources.fetch import Fetcher
from bot.sources.poll import FeedPollState, Outcome, Poller, PollPolicy, parse_pool

from .conftest import FeedServer

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
async def poller(fetcher: Fetcher) -> AsyncIterator[Poller]:
    yield Poller(fetcher)  # parses in a thread; one test below uses the process pool


def advance(state: FeedPollState, result: object) -> FeedPollState:
    """What the store does: keep the fields the poller returned."""
    updates = result.state_updates()  # type: ignore[attr-defined]
    return dataclasses.replace(state, **{k: v for k, v in updates.items() if hasattr(state, k)})


async def test_first_poll_parses_and_records_validators(
    feed_server: FeedServer, poller: Poller
) -> None:
    state = FeedPollState(url=feed_server.url("/feeds/rss20_liftoff.xml"))
    result = await poller.poll(state, now=NOW)
    assert result.outcome is Outcome.PARSED
    assert len(result.drafts) == 4 and result.title == "Liftoff News"
    assert result.etag and result.last_modified and result.body_hash
    assert result.failure_count == 0 and result.last_error is None
    assert result.next_fetch_at == NOW + timedelta(seconds=900)
    updates = result.state_updates()
    assert updates["title"] == "Liftoff News" and updates["last_fetch_at"] == NOW


async def test_second_poll_gets_304_and_parses_nothing(
    feed_server: FeedServer, poller: Poller
) -> None:
    state = FeedPollState(url=feed_server.url("/feeds/atom10_releases.xml"))
    first = await poller.poll(state, now=NOW)
    second = await poller.poll(advance(state, first), now=NOW)
    assert second.outcome is Outcome.NOT_MODIFIED and second.drafts == ()
    assert (second.etag, second.body_hash) == (first.etag, first.body_hash)


async def test_identical_bytes_without_validators_skip_parsing(
    feed_server: FeedServer, poller: Poller
) -> None:
    state = FeedPollState(url=feed_server.url("/novalidators/rss10_xmlcom.xml"))
    first = await poller.poll(state, now=NOW)
    assert first.outcome is Outcome.PARSED and first.etag is None
    second = await poller.poll(advance(state, first), now=NOW)
    assert second.outcome is Outcome.UNCHANGED and second.drafts == ()
    assert feed_server.hits["/novalidators/rss10_xmlcom.xml"] == 2


async def test_refresh_hints_and_bounds(feed_server: FeedServer, fetcher: Fetcher) -> None:
    poller = Poller(fetcher, policy=PollPolicy(min_interval_s=300, max_interval_s=5400))
    ttl = await poller.poll(FeedPollState(url=feed_server.url("/feeds/rss20_news.xml")), now=NOW)
    assert ttl.interval_s == 3600  # sy:updatePeriod hourly beats the 15 min default
    capped = await poller.poll(
        FeedPollState(url=feed_server.url("/maxage/rss20_liftoff.xml")), now=NOW
    )
    assert capped.interval_s == 5400  # Cache-Control max-age=7200, capped at the maximum
    short = await poller.poll(
        FeedPollState(url=feed_server.url("/feeds/rss20_liftoff.xml"), interval_s=60), now=NOW
    )
    assert short.interval_s == 300  # never more often than the minimum


async def test_failures_back_off_exponentially(feed_server: FeedServer, poller: Poller) -> None:
    state = FeedPollState(url=feed_server.url("/status/500"), etag='"kept"')
    delays = []
    for _ in range(3):
        result = await poller.poll(state, now=NOW)
        assert result.outcome is Outcome.FAILED and result.error_kind == "server"
        assert result.last_error == f"fetch: {state.url}: HTTP 500, server error"
        assert result.etag == '"kept"'
        assert result.next_fetch_at is not None
        delays.append((result.next_fetch_at - NOW).total_seconds())
        state = advance(state, result)
    assert delays == [900, 1800, 3600]
    assert state.failure_count == 3
    ok = await poller.poll(
        dataclasses.replace(state, url=feed_server.url("/feeds/rss20_liftoff.xml"))
    )
    assert ok.failure_count == 0 and ok.last_error is None


async def test_retry_after_is_a_floor_for_the_next_fetch(
    feed_server: FeedServer, poller: Poller
) -> None:
    state = FeedPollState(url=feed_server.url("/status/429?retry_after=7200"))
    result = await poller.poll(state, now=NOW)
    assert result.error_kind == "rate_limited" and result.retry_after == 7200
    assert result.next_fetch_at == NOW + timedelta(seconds=7200)


async def test_gone_stops_polling(feed_server: FeedServer, poller: Poller) -> None:
    result = await poller.poll(FeedPollState(url=feed_server.url("/status/410")), now=NOW)
    assert result.outcome is Outcome.GONE and result.gone
    assert result.next_fetch_at is None
    assert result.state_updates()["gone"] is True


async def test_html_page_is_not_a_feed(feed_server: FeedServer, poller: Poller) -> None:
    url = feed_server.url("/html")
    result = await poller.poll(FeedPollState(url=url, body_hash="old"), now=NOW)
    assert result.outcome is Outcome.FAILED and result.error_kind == "not_a_feed"
    assert result.last_error == f"fetch: {url}: not a feed (an HTML page)"
    assert result.body_hash == "old"  # so the same page is parsed (and refused) next time


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/huge", "too_large"), ("/loop/a", "redirect"), ("/status/404", "not_found")],
)
async def test_fetch_failures_are_recorded(
    feed_server: FeedServer, poller: Poller, path: str, kind: str
) -> None:
    result = await poller.poll(FeedPollState(url=feed_server.url(path)), now=NOW)
    assert result.outcome is Outcome.FAILED
    assert result.error_kind == kind and result.failure_count == 1
    assert result.last_error is not None and result.last_error.startswith("fetch: ")


async def test_gzip_and_wrong_content_type_feeds_parse(
    feed_server: FeedServer, poller: Poller
) -> None:
    gz = await poller.poll(FeedPollState(url=feed_server.url("/enc/gzip/rss20_news.xml")))
    wrong = await poller.poll(FeedPollState(url=feed_server.url("/wrongtype/rss20_liftoff.xml")))
    assert gz.outcome is wrong.outcome is Outcome.PARSED
    assert (len(gz.drafts), len(wrong.drafts)) == (3, 4)


async def test_billion_laughs_is_ingested_harmlessly(
    feed_server: FeedServer, poller: Poller
) -> None:
    result = await poller.poll(FeedPollState(url=feed_server.url("/bomb")), now=NOW)
    assert result.outcome is Outcome.PARSED
    assert result.bozo is not None and "entity declarations removed" in result.bozo
    assert [len(d.text) < 100 for d in result.drafts] == [True]


async def test_edited_item_is_the_same_key_with_new_title_and_date(
    feed_server: FeedServer, poller: Poller
) -> None:
    """The store upserts by (feed, key): same key + new title/date = an update."""
    state = FeedPollState(url=feed_server.url("/editing"))
    first = await poller.poll(state, now=NOW)
    second = await poller.poll(advance(state, first), now=NOW)
    assert second.outcome is Outcome.PARSED
    before = {d.key: d for d in first.drafts}
    after = {d.key: d for d in second.drafts}
    assert before.keys() == after.keys() == {"city-123", "https://city.example/news/park"}
    assert before["city-123"].title == "Council approves budget"
    assert after["city-123"].title == "Council approves revised budget"
    assert after["city-123"].published_at - before["city-123"].published_at == timedelta(minutes=90)


async def test_poll_all_in_the_process_pool(feed_server: FeedServer, fetcher: Fetcher) -> None:
    names = ["rss20_liftoff.xml", "rss20_news.xml", "rss10_xmlcom.xml", "atom10_releases.xml"]
    states = [FeedPollState(url=feed_server.url(f"/feeds/{n}")) for n in names]
    states.append(FeedPollState(url=feed_server.url("/status/503")))
    with parse_pool(2) as pool:
        poller = Poller(fetcher, executor=pool)
        results = {r.url: r async for r in poller.poll_all(states, concurrency=3)}
    assert [len(results[s.url].drafts) for s in states] == [4, 3, 2, 4, 0]
    assert results[states[-1].url].error_kind == "server"


async def test_a_parser_crash_is_recorded_not_raised(
    feed_server: FeedServer, poller: Poller, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object) -> object:
        raise TypeError("unexpected None")

    monkeypatch.setattr("bot.sources.poll._parse_job", crash)
    url = feed_server.url("/feeds/rss20_liftoff.xml")
    result = await poller.poll(FeedPollState(url=url), now=NOW)
    assert result.outcome is Outcome.FAILED and result.error_kind == "not_a_feed"
    assert result.last_error == f"fetch: {url}: parse failed (TypeError: unexpected None)"


async def test_poll_all_stops_cleanly_when_the_caller_stops(
    feed_server: FeedServer, poller: Poller
) -> None:
    states = [FeedPollState(url=feed_server.url(f"/busy/{i}")) for i in range(20)]
    seen = []
    async with aclosing(poller.poll_all(states, concurrency=2)) as results:
        async for result in results:
            seen.append(result)
            if len(seen) == 3:
                break
    hits = sum(v for k, v in feed_server.hits.items() if k.startswith("/busy/"))
    await asyncio.sleep(0.3)  # nothing is still polling in the background
    assert hits == sum(v for k, v in feed_server.hits.items() if k.startswith("/busy/")) < 20
    assert len(seen) == 3
