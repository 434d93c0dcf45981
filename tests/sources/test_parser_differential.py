"""The fast path (fastfeedparser, falling back to feedparser) stores what feedparser
alone stores: over every file of ../shared/data/feeds and over tests/data/feeds.

For each file both paths run through ``parse_feed``; the drafts must agree on the key
(guid, canonical URL or content hash), title, link, published instant in UTC, author,
text and standfirst after our HTML-to-text, and language; the feeds on title, language,
link, refresh hints and item count. Every difference still allowed is listed below with
its reason; a new one fails the test. Run with ``-s`` for the totals.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.sources.parse import ParsedFeed, parse_feed

from .conftest import FEEDS

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "feeds"
NOW = datetime(2026, 12, 4, tzinfo=UTC)
DRAFT_FIELDS = ("key", "title", "url", "published_at", "author", "text", "standfirst")
DRAFT_FIELDS += ("language",)
FEED_FIELDS = ("title", "link", "language", "ttl_s", "update_period_s", "raw_entries")

# An Atom <author> with an <email>: feedparser writes "Name (email)", fastfeedparser the
# name alone. fastfeedparser is right for us: the address (mostly noreply@blogger.com or
# "hidden") is no author. 223 items in 15 files.
AUTHOR_WITH_EMAIL = re.compile(r"^(?P<name>.+) \([^()]+\)$")

ACCEPTED: dict[tuple[str, str], str] = {
    # fastfeedparser right, feedparser wrong
    ("fastfeedparser_benchmark/78f77fae2e1ffc14", "text"): "NYT: feedparser takes the image "
    "caption (media:description inside media:content) as the article's content; "
    "fastfeedparser keeps the <description> as the text. fastfeedparser right.",
    ("fastfeedparser_benchmark/78f77fae2e1ffc14", "standfirst"): "the same items: with the "
    "caption as content, feedparser shows the real description as the standfirst.",
    ("fastfeedparser_benchmark/660a52f7dc6a1948", "text"): "El País: feedparser takes a photo "
    "caption (media:description) as the text of items whose text is a dcterms field; "
    "fastfeedparser reads the <description>. fastfeedparser right.",
    ("feedjira/HuffPostCanada.xml", "text"): "as NYT: feedparser takes the image caption "
    "(media:description) as content. fastfeedparser right.",
    ("feedjira/HuffPostCanada.xml", "standfirst"): "the same items, see text.",
    ("feed-rs/atom/atom_mediarss_newscred_1.xml", "standfirst"): "feedparser takes an image's "
    "media:description ('media description') as the summary. fastfeedparser right.",
    ("feed-rs/rss2/rss_2.0_ilmessaggero.xml", "published_at"): "an Italian RFC 822 date "
    "('mer, 16 nov 2022'): feedparser cannot read it and we use the fetch time; "
    "fastfeedparser reads it. fastfeedparser right.",
    ("feed-rs/rss2/rss_2.0_vimeo_media.xml", "language"): "a <language> after the items: "
    "feedparser applies it, our channel-head scan stops at the first item. Feed level "
    "only; feedparser right.",
    ("feed-rs/rss2/rss_2.0_vimeo_media.xml", "feed.language"): "see language.",
    ("feed-rs/rss1/rss_1.0_debian.xml", "feed.language"): "RSS 1.0 <dc:language> in the "
    "channel: feedparser ignores it there, the channel-head scan reads it. ours right.",
    ("rss-parser/customfields.rss", "author"): "an empty <author></author> then the name "
    "in another element: feedparser keeps the empty one, fastfeedparser the name. "
    "fastfeedparser right.",
    # feedparser right, fastfeedparser wrong, no cheap rule to detect it: kept, and rare
    ("fastfeedparser_benchmark/c81b774804d7fd57", "standfirst"): "one Jekyll entry (the "
    "HackerNews post): feedparser's <summary> comes out equal to the text, so no "
    "standfirst; fastfeedparser's reading of it differs. Not explained yet; standfirst only.",
    ("feed-rs/rss2/rss_2.0_relurl_1.xml", "standfirst"): "raw <em> inside <description> "
    "(invalid RSS): fastfeedparser keeps the text before the first child element. "
    "feedparser right; standfirst only.",
    ("feed-rs/atom/atom_xml_base.xml", "url"): "an entry link relative to xml:base: "
    "fastfeedparser gives no link, feedparser resolves it. feedparser right.",
    ("node-feedparser/complexNamespaceFeed.xml", "url"): "an Atom entry with only "
    "rel='self': feedparser gives no link, fastfeedparser the self link. Test file.",
    # ParsedFeed.link is not stored anywhere; listed for completeness
    ("feed-rs/atom/atom_xml_base.xml", "feed.link"): "relative to xml:base, see url.",
    ("feed-rs/atom/atom_mediarss_newscred_1.xml", "feed.link"): "a relative alternate link: "
    "feedparser resolves it against the feed URL, fastfeedparser drops it.",
    ("feedjira/atom_simple_single_entry_link_self.xml", "feed.link"): "only rel='self': "
    "feedparser gives no link, fastfeedparser the self link.",
    ("feedjira/google_alerts_atom.xml", "feed.link"): "only rel='self', as above.",
}


def outcome(body: bytes, url: str, *, fast: bool) -> ParsedFeed | str:
    try:
        return parse_feed(body, url=url, now=NOW, fast=fast)
    except ParseError as exc:
        return str(exc)


def differences(name: str, body: bytes, url: str) -> tuple[list[tuple[str, str, str]], str]:
    """(name, field, what) for every difference not accepted, and the path taken."""
    ref, got = outcome(body, url, fast=False), outcome(body, url, fast=True)
    if isinstance(ref, str) or isinstance(got, str):
        same = ref == got
        return ([] if same else [(name, "outcome", f"{ref!r:.80} | {got!r:.80}")]), "error"
    found: list[tuple[str, str, str]] = []
    for field in FEED_FIELDS:
        if getattr(ref, field) != getattr(got, field):
            found.append((name, f"feed.{field}", f"{getattr(ref, field)!r:.60}"))
    for old, new in zip(ref.entries, got.entries, strict=False):
        for field in DRAFT_FIELDS:
            a, b = getattr(old, field), getattr(new, field)
            if a == b:
                continue
            email = AUTHOR_WITH_EMAIL.match(a or "") if field == "author" else None
            if email and email["name"] == b:
                continue
            found.append((name, field, f"{a!r:.60} | {b!r:.60}"))
    return [d for d in found if d[:2] not in ACCEPTED], got.parser


def test_fast_path_stores_what_feedparser_stores_over_the_corpus() -> None:
    index = CORPUS / "index.jsonl"
    if not index.is_file():
        pytest.skip(f"no feed corpus at {CORPUS} (it sits beside the repository)")
    rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
    unexpected: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    paths: Counter[str] = Counter()
    for row in rows:
        body = (CORPUS / row["file"]).read_bytes()
        url = row.get("feed_url") or f"https://corpus.test/{row['file']}"
        found, path = differences(row["file"], body, url)
        unexpected += found
        paths[path] += 1
        seen.update(k for k in ACCEPTED if k[0] == row["file"])
    print(f"\n{len(rows)} files: {dict(paths)}")
    assert len(rows) == 306
    assert paths["fastfeedparser"] > 150  # the fast path is taken, not declined everywhere
    assert not unexpected, "\n".join(map(str, unexpected))
    assert seen == set(ACCEPTED), "accepted differences for files that are gone"


@pytest.mark.parametrize("name", sorted(p.name for p in FEEDS.glob("*.*") if p.suffix != ".md"))
def test_fast_path_on_the_captured_feeds(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    found, path = differences(name, body, f"http://feeds.test/{name}")
    assert not found
    # liftoff has items with neither guid nor link next to items whose guid is their
    # link: fastfeedparser's copied ids make the key ambiguous, so feedparser reads it.
    expected = {"jsonfeed11.json": "json", "rss20_liftoff.xml": "feedparser"}
    assert path == expected.get(name, "fastfeedparser")
