"""Full text for teasers, through the same fetcher, with the teaser as the fallback."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.models import ArticleDraft
from bot.sources.extract import FullTextExtractor, decode_html
from bot.sources.fetch import Fetcher, FetchOptions

from .conftest import FeedServer


def teaser(url: str | None, text: str = "River crest passes the station.") -> ArticleDraft:
    return ArticleDraft(
        source="Riverside News",
        key=url or "k",
        title="Flood crest",
        text=text,
        published_at=datetime(2026, 3, 1, tzinfo=UTC),
        url=url,
    )


async def test_teaser_gets_the_page_text(feed_server: FeedServer, fetcher: Fetcher) -> None:
    extractor = FullTextExtractor(fetcher, threshold=600)
    draft = teaser(feed_server.url("/article/1"))
    full = await extractor.enrich(draft)
    assert len(full.text) > 600
    assert "vindication of its warning system" in full.text
    assert "Home | World" not in full.text and "Copyright" not in full.text
    assert full.standfirst == draft.text and full.key == draft.key


async def test_pages_are_cached(feed_server: FeedServer, fetcher: Fetcher) -> None:
    extractor = FullTextExtractor(fetcher)
    url = feed_server.url("/article/2")
    results = await extractor.enrich_all([teaser(url), teaser(url)])
    assert results[0].text == results[1].text and len(results[0].text) > 600
    assert feed_server.hits["/article/2"] == 1


async def test_failures_keep_the_teaser(feed_server: FeedServer, fetcher: Fetcher) -> None:
    extractor = FullTextExtractor(fetcher)
    text = "The river crest passed the station on Tuesday, as predicted."
    for path in ("/status/500", "/feeds/rss20_liftoff.xml", "/html"):
        draft = teaser(feed_server.url(path), text=text)
        assert await extractor.enrich(draft) == draft
    assert extractor.cache[feed_server.url("/status/500")] is None


async def test_long_items_and_items_without_links_are_left_alone(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    extractor = FullTextExtractor(fetcher, threshold=20)
    long_item = teaser(feed_server.url("/article/3"), text="x" * 20)
    assert await extractor.enrich(long_item) == long_item
    assert await extractor.enrich(teaser(None)) == teaser(None)
    assert feed_server.hits["/article/3"] == 0


async def test_extraction_obeys_the_ssrf_guard(feed_server: FeedServer) -> None:
    async with Fetcher(FetchOptions()) as guarded:
        extractor = FullTextExtractor(guarded)
        draft = teaser(feed_server.url("/article/4"))
        assert await extractor.enrich(draft) == draft
    assert feed_server.hits["/article/4"] == 0


def test_decode_html() -> None:
    assert decode_html("café".encode("latin-1"), "text/html; charset=ISO-8859-1") == "café"
    assert decode_html("café".encode(), None) == "café"
    assert decode_html("café".encode("cp1252"), "text/html; charset=bogus") == "café"
