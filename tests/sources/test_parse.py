"""Parsing every supported format into one normalised output, and the ugly cases."""

from __future__ import annotations

import gzip
import pickle
from datetime import UTC, datetime

import pytest

from bot.errors import ParseError
from bot.sources.fastparse import Declined, read_fast
from bot.sources.parse import ParsedFeed, parse_feed

from .conftest import BOMB, FEEDS, HTML_PAGE, edited_feed

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "fmt", "title", "count"),
    [
        ("rss20_liftoff.xml", "rss20", "Liftoff News", 4),
        ("rss20_news.xml", "rss20", "World", 3),
        ("rss10_xmlcom.xml", "rss10", "XML.com", 2),
        ("atom10_releases.xml", "atom10", "Release notes from feed-rs", 4),
        ("jsonfeed11.json", "json11", "Blog – InfluxData", 2),
    ],
)
def test_each_format_gives_drafts(name: str, fmt: str, title: str, count: int) -> None:
    feed = parse_feed((FEEDS / name).read_bytes(), url=f"http://feeds.test/{name}", now=NOW)
    assert (feed.format, feed.title, len(feed.entries)) == (fmt, title, count)
    assert feed.bozo is None
    for draft in feed.entries:
        assert draft.source == title
        assert draft.key and draft.title and draft.text
        assert draft.published_at.tzinfo is not None and draft.published_at <= NOW
        assert "<" not in draft.text and "&lt;" not in draft.text


def test_rss_item_fields() -> None:
    feed = parse_feed(
        (FEEDS / "rss20_liftoff.xml").read_bytes(), url="http://feeds.test/a", now=NOW
    )
    first, untitled = feed.entries[0], feed.entries[1]
    assert first.key == "http://liftoff.msfc.nasa.gov/2003/06/03.html#item573"  # the guid
    assert first.url == "http://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp"
    assert first.published_at == datetime(2003, 6, 3, 9, 39, 21, tzinfo=UTC)
    assert first.text.endswith("at Russia's Star City.")  # entity-encoded HTML → text
    assert first.language == "en" and first.author == "writer@example.com (Writer)"
    assert untitled.title.startswith("Sky watchers in Europe")  # no <title>: opening words


def test_atom_and_json_details() -> None:
    atom = parse_feed((FEEDS / "atom10_releases.xml").read_bytes(), url="http://x.test/", now=NOW)
    assert atom.entries[0].published_at == datetime(2020, 1, 19, 5, 8, 59, tzinfo=UTC)
    assert atom.entries[0].text.splitlines()[1] == "migrate to Rust 2018 edition"
    assert atom.entries[0].author == "markpritchard"
    feed = parse_feed((FEEDS / "jsonfeed11.json").read_bytes(), url="http://j.test/", now=NOW)
    item = feed.entries[0]
    assert item.published_at == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)  # RFC 822 date
    assert item.author == "Chris Churilo, Fake Author 1"
    assert item.title == "InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark"
    assert feed.language == "en" and item.language == "en"


def test_feed_refresh_hints() -> None:
    feed = parse_feed((FEEDS / "rss20_news.xml").read_bytes(), url="http://n.test/", now=NOW)
    assert feed.ttl_s == 60 and feed.update_period_s == 3600
    assert feed.interval_hint_s == 3600


def test_missing_and_future_dates_become_fetch_time() -> None:
    feed = parse_feed((FEEDS / "rss10_xmlcom.xml").read_bytes(), url="http://x.test/", now=NOW)
    assert {d.published_at for d in feed.entries} == {NOW}
    body = (
        b'<rss version="2.0"><channel><title>T</title><item><guid>f</guid><title>Future</title>'
        b"<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item></channel></rss>"
    )
    assert parse_feed(body, url="http://x.test/", now=NOW).entries[0].published_at == NOW


def test_json_feed_1_0_and_bad_items() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1", "title": "J", "items": ['
        b'{"id": 7, "content_text": "Seven.", "date_published": "2026-03-01T10:00:00Z"},'
        b'{"id": "a", "url": "https://j.test/a?fbclid=x", "content_html": "<p>A <b>b</b></p>"},'
        b'"junk", {"id": "a", "content_text": "duplicate id"}]}'
    )
    feed = parse_feed(body, url="http://j.test/feed.json", now=NOW)
    assert [d.key for d in feed.entries] == ["7", "a"]
    assert feed.entries[0].published_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert feed.entries[1].url == "https://j.test/a" and feed.entries[1].text == "A b"
    assert feed.bozo == "an item is not an object" and feed.raw_entries == 3


def test_wrong_content_type_still_parses() -> None:
    body = (FEEDS / "rss20_liftoff.xml").read_bytes()
    feed = parse_feed(body, url="http://x.test/", content_type="text/html; charset=utf-8")
    assert len(feed.entries) == 4


def test_gzip_bytes_without_content_encoding_are_inflated() -> None:
    body = gzip.compress((FEEDS / "atom10_releases.xml").read_bytes())
    assert len(parse_feed(body, url="http://x.test/", now=NOW).entries) == 4


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (HTML_PAGE, "not a feed (an HTML page)"),
        (b"", "not a feed (an empty body)"),
        (b'{"hello": "world"}', "not a feed (JSON without a JSON Feed version)"),
        (b"{not json", "not a feed (invalid JSON"),
    ],
)
def test_not_a_feed(body: bytes, what: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, url="http://x.test/home")
    assert str(caught.value).startswith(f"parse: http://x.test/home: {what}")


def test_bozo_feed_keeps_what_parsed() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & co</title>'
        b"<item><guid>1</guid><title>One</title><description>first</description></item>"
        b"<item><guid>2</guid><title>Two</title><description>second</description></item>"
    )  # an unescaped & and no closing tags
    feed = parse_feed(body, url="http://x.test/", now=NOW)
    assert [d.title for d in feed.entries] == ["One", "Two"]
    assert feed.bozo is not None


@pytest.mark.parametrize("fast", [True, False])
def test_billion_laughs_does_not_expand(fast: bool) -> None:
    feed = parse_feed(BOMB, url="http://x.test/bomb", now=NOW, fast=fast)
    # Declarations stripped, the references left are undefined: malformed XML, which the
    # fast path leaves to feedparser.
    assert feed.parser == "feedparser"
    assert feed.bozo is not None and "entity declarations removed" in feed.bozo
    assert len(feed.entries) == 1
    assert len(feed.entries[0].text) < 100 and len(feed.title or "") < 100


@pytest.mark.parametrize("fast", [True, False])
def test_external_entities_are_not_read(fast: bool) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>X</title><item><guid>x1</guid>'
        b"<title>T</title><description>a &xxe; b</description></item></channel></rss>"
    )
    feed = parse_feed(body, url="http://x.test/xxe", now=NOW, fast=fast)
    assert feed.parser == "feedparser" and feed.entries[0].text == "a &xxe; b"
    # The fast reader, given the raw bytes, does not read the file either: lxml keeps the
    # reference as a node, so the text stops before it.
    assert read_fast(body, url="http://x.test/xxe").entries[0].summary_html == "a"


def test_fast_reader_refuses_an_unstripped_bomb() -> None:
    with pytest.raises(Declined):
        read_fast(BOMB, url="http://x.test/bomb")


@pytest.mark.parametrize("fast", [True, False])
def test_gzip_bomb_is_refused_on_both_paths(fast: bool) -> None:
    body = gzip.compress(b"<rss>" + b" " * (11 * 1024 * 1024), compresslevel=9)
    with pytest.raises(ParseError, match="inflates past 10 MB"):
        parse_feed(body, url="http://x.test/bomb.gz", fast=fast)


@pytest.mark.parametrize(("fast", "parser"), [(True, "fastfeedparser"), (False, "feedparser")])
def test_gzip_feed_parses_on_both_paths(fast: bool, parser: str) -> None:
    body = gzip.compress((FEEDS / "atom10_releases.xml").read_bytes())
    feed = parse_feed(body, url="http://x.test/", now=NOW, fast=fast)
    assert (feed.parser, len(feed.entries)) == (parser, 4)


def test_fast_path_declines_to_feedparser() -> None:
    """Bytes fastfeedparser could read differently go to feedparser: not UTF-8, broken."""
    latin = (FEEDS / "rss20_news.xml").read_bytes().replace(b"utf-8", b"ISO-8859-1", 1)
    broken = (FEEDS / "rss20_news.xml").read_bytes().replace(b"</channel>", b"&bogus;</channel>")
    for body in (latin, broken):
        feed = parse_feed(body, url="http://x.test/", now=NOW)
        assert (feed.parser, len(feed.entries)) == ("feedparser", 3)


def test_html_entities_undefined_in_xml_are_read_on_the_fast_path_with_a_warning() -> None:
    body = (
        b'<rss version="2.0"><channel><title>Blog&nbsp;one</title><item><guid>g1</guid>'
        b"<title>Re&colon; accounting</title><description><![CDATA[<p>a&nbsp;b</p>]]>"
        b"</description></item></channel></rss>"
    )
    fast, ref = _both_paths(body)
    assert fast.parser == "fastfeedparser" and ref.bozo and fast.bozo
    assert "colon, nbsp" in fast.bozo
    assert [(d.title, d.text) for d in fast.entries] == [(d.title, d.text) for d in ref.entries]
    assert (fast.title, fast.entries[0].title) == ("Blog one", "Re: accounting")


def _both_paths(body: bytes) -> tuple[ParsedFeed, ParsedFeed]:
    return (
        parse_feed(body, url="http://x.test/feed", now=NOW),
        parse_feed(body, url="http://x.test/feed", now=NOW, fast=False),
    )


def test_an_itunes_summary_repeating_the_description_takes_the_fast_path() -> None:
    item = (
        "<item><guid>{n}</guid><title>T{n}</title><description>{d}</description>"
        "{c}<itunes:summary>{s}</itunes:summary></item>"
    )
    head = (
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>P</title>'
        "<itunes:summary>the show</itunes:summary>"
    )
    same = [
        item.format(n=1, d="Show notes.", c="", s="Show notes."),
        item.format(
            n=2, d="Notes.", c="<content:encoded>Full notes.</content:encoded>", s="Notes."
        ),
    ]
    fast, ref = _both_paths((head + "".join(same) + "</channel></rss>").encode())
    assert fast.parser == "fastfeedparser"
    assert [(d.text, d.standfirst) for d in fast.entries] == [
        (d.text, d.standfirst) for d in ref.entries
    ]
    assert [(d.text, d.standfirst) for d in fast.entries] == [
        ("Show notes.", None),
        ("Full notes.", "Notes."),
    ]
    # A different summary, or one before the content, is feedparser's to read.
    for other in (
        item.format(n=3, d="Notes.", c="", s="Other notes."),
        "<item><guid>4</guid><description>N.</description><itunes:summary>N.</itunes:summary>"
        "<content:encoded>Full.</content:encoded></item>",
    ):
        feed = parse_feed((head + other + "</channel></rss>").encode(), url="http://x.test/")
        assert feed.parser == "feedparser"


def test_guids_with_and_without_ispermalink_false_are_resolved_item_by_item() -> None:
    body = (
        b'<rss version="2.0"><channel><title>B</title>'
        b'<item><title>One</title><guid isPermaLink="false">rss-only-1</guid></item>'
        b'<item><title>Two</title><guid isPermaLink="true">/blog/two/</guid></item>'
        b"<item><title>Three</title><guid>https://b.test/three</guid></item>"
        b"</channel></rss>"
    )
    fast, ref = _both_paths(body)
    assert fast.parser == "fastfeedparser"
    assert [(d.key, d.url) for d in fast.entries] == [(d.key, d.url) for d in ref.entries]
    assert [d.key for d in fast.entries] == [
        "rss-only-1",  # not a link: kept as it is
        "http://x.test/blog/two/",  # a permalink: resolved against the feed URL
        "https://b.test/three",
    ]


def test_edited_item_keeps_its_key() -> None:
    before = parse_feed(edited_feed(1), url="http://city.test/rss", now=NOW).entries
    after = parse_feed(edited_feed(2), url="http://city.test/rss", now=NOW).entries
    assert (
        [d.key for d in before]
        == [d.key for d in after]
        == [
            "city-123",  # the guid
            "https://city.example/news/park",  # no guid: the canonical link
        ]
    )
    assert before[0].title != after[0].title
    assert before[0].published_at != after[0].published_at
    assert before[0].url == "https://city.example/news/budget"  # utm_* and fragment dropped


def test_items_without_guid_or_link_get_a_content_hash_key() -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><title>Same</title><description>x</description></item>"
        b"<item><title>Same</title><description>x</description></item>"
        b"<item><title>Other</title><description>x</description></item></channel></rss>"
    )
    feed = parse_feed(body, url="http://x.test/", now=NOW)
    assert feed.raw_entries == 3 and len(feed.entries) == 2
    assert all(d.key.startswith("sha256:") for d in feed.entries)


def test_result_pickles_for_the_process_pool() -> None:
    feed = parse_feed((FEEDS / "rss20_news.xml").read_bytes(), url="http://n.test/", now=NOW)
    assert pickle.loads(pickle.dumps(feed)) == feed
