"""OPML import and export: how feed readers hand subscription lists to each other.

Import flattens nested outlines (a folder becomes the feed's ``category``), keeps only
http(s) ``xmlUrl``s, and drops duplicates. The file comes from a user, so DTDs and entity
declarations are refused before parsing rather than trusted to the XML parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from bot.errors import ParseError

MAX_OPML_BYTES = 5 * 1024 * 1024
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: the feed URL, its title and the folder it sat in."""

    url: str
    title: str | None = None
    html_url: str | None = None
    category: str | None = None


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Feeds listed in an OPML document, in document order; raise ``ParseError`` if unreadable."""
    if len(data) > MAX_OPML_BYTES:
        raise ParseError(f"opml: file larger than {MAX_OPML_BYTES // 1_048_576} MB")
    if _DTD.search(data):
        raise ParseError("opml: DOCTYPE and ENTITY declarations are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ParseError(f"opml: not well-formed XML ({exc})") from exc
    if root.tag.lower() != "opml":
        raise ParseError(f"opml: the root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise ParseError("opml: no <body> element")
    feeds: dict[str, OpmlFeed] = {}
    _walk(body, None, feeds)
    return list(feeds.values())


def _walk(node: ET.Element, category: str | None, feeds: dict[str, OpmlFeed]) -> None:
    for outline in node.findall("outline"):
        attrs = {k.lower(): v.strip() for k, v in outline.attrib.items()}
        label = attrs.get("title") or attrs.get("text") or None
        url = attrs.get("xmlurl")
        if url and url.lower().startswith(("http://", "https://")):
            feeds.setdefault(
                url,
                OpmlFeed(url=url, title=label, html_url=attrs.get("htmlurl"), category=category),
            )
        # A folder's name labels its children; a feed outline's children keep the folder.
        _walk(outline, category if url else (label or category), feeds)


def export_opml(
    feeds: Iterable[OpmlFeed], *, title: str = "briefbot subscriptions", now: datetime | None = None
) -> str:
    """An OPML 2.0 document listing ``feeds``, grouped into folders by category."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC))
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.category:
            if feed.category not in folders:
                folders[feed.category] = ET.SubElement(
                    body, "outline", text=feed.category, title=feed.category
                )
            parent = folders[feed.category]
        attrs = {"type": "rss", "text": feed.title or feed.url, "xmlUrl": feed.url}
        if feed.title:
            attrs["title"] = feed.title
        if feed.html_url:
            attrs["htmlUrl"] = feed.html_url
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
