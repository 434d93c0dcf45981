"""OPML import and export."""

from __future__ import annotations

import pytest

from bot.errors import ParseError
from bot.sources.opml import OpmlFeed, export_opml, parse_opml

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="News" title="News">
      <outline type="rss" text="BBC World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"
               htmlUrl="https://www.bbc.co.uk/news/world"/>
      <outline type="rss" text="NPR" xmlUrl="https://feeds.npr.org/1001/rss.xml"/>
    </outline>
    <outline type="rss" title="A blog" text="ignored" xmlURL="http://blog.example/feed"/>
    <outline type="rss" text="Duplicate" xmlUrl="https://feeds.npr.org/1001/rss.xml"/>
    <outline type="link" text="Not a feed" url="https://example.com/"/>
    <outline type="rss" text="Local file" xmlUrl="file:///etc/passwd"/>
  </body>
</opml>
"""


def test_import_flattens_folders_and_skips_junk() -> None:
    feeds = parse_opml(READER_EXPORT)
    assert feeds == [
        OpmlFeed(
            "https://feeds.bbci.co.uk/news/world/rss.xml",
            "BBC World",
            "https://www.bbc.co.uk/news/world",
            "News",
        ),
        OpmlFeed("https://feeds.npr.org/1001/rss.xml", "NPR", None, "News"),
        OpmlFeed("http://blog.example/feed", "A blog", None, None),
    ]


def test_export_round_trips() -> None:
    feeds = parse_opml(READER_EXPORT)
    text = export_opml(feeds)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert parse_opml(text.encode()) == feeds


def test_export_escapes_titles() -> None:
    text = export_opml([OpmlFeed("https://x.test/?a=1&b=2", 'Tom & "Jerry" <3')])
    assert parse_opml(text.encode()) == [OpmlFeed("https://x.test/?a=1&b=2", 'Tom & "Jerry" <3')]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body>", "opml: not well-formed XML"),
        (b"<rss/>", "opml: the root element is <rss>, not <opml>"),
        (b"<opml/>", "opml: no <body> element"),
        (
            b'<!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>',
            "opml: DOCTYPE and ENTITY declarations are not accepted",
        ),
    ],
)
def test_bad_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_opml(data)
    assert str(caught.value).startswith(message)
