"""fastfeedparser's reading of an RSS/Atom feed, or a refusal where it could differ.

fastfeedparser (lxml underneath) reads feeds 20-30× faster than feedparser, but not
always the same way. ``read_fast`` returns a ``RawFeed`` only for documents where the
differential corpus test (tests/sources/test_parser_differential.py) shows that our
drafts come out as they do through feedparser; otherwise it raises ``Declined`` and
``parse.py`` asks feedparser. The rules, each from a difference that test found:

- UTF-8 only: other encodings are guessed differently (the charset in the HTTP header,
  the XML declaration and the bytes disagree in the wild, and feedparser weighs them).
- Well-formed only (checked with expat, no tree built): lxml's recover mode and
  feedparser's loose parser repair broken XML differently (an undefined ``&colon;`` cut
  a title to "Re"), and feedparser's bozo flag is what tells the user a feed is broken.
  The one repair made here: HTML's named entities, undefined in XML (``&colon;``,
  ``&nbsp;``), become character references before anything reads the bytes, and the
  feed carries a warning as feedparser's bozo flag would.
- No ``type="xhtml"`` text (fastfeedparser keeps the wrapper ``<div>`` or the first text
  node). An ``itunes:summary`` only where it repeats its item's ``<description>`` byte
  for byte, after it and after any ``content:encoded`` (feedparser reads it as the
  summary or the content, depending on what came before: here either way the same text).
- No unescaped markup inside ``<description>`` and the like (fastfeedparser reads the
  text up to the first child element), and no RSS 1.0 ``content:encoded`` (not read).
- Every ``<item>``/``<entry>`` in the bytes read: nested items go to feedparser.
- No key in doubt: fastfeedparser copies a missing id from the link (feedparser keys
  such an item by its canonical link) and resolves no id (feedparser resolves ids as
  URIs unless ``isPermaLink="false"``, against ``xml:base`` when set). Where items
  differ, each RSS item's own ``<guid>`` says (one per item); where the bytes cannot
  tell which case an item is in, feedparser decides.
- fastfeedparser makes a summary up from the content where an item has none, feedparser
  copies the content: counted in the bytes, and where some items have one and others
  not, recognised by redoing fastfeedparser's recipe.

What fastfeedparser reads differently but can be brought to feedparser's value is
adapted below: ids resolved against the feed URL as feedparser does, the description it
synthesises from the content dropped, dates truncated to whole seconds, the channel's
``<language>``, ``<ttl>`` and ``sy:`` hints read from the channel head.
"""

from __future__ import annotations

import html
import html.entities
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.parsers import expat

import fastfeedparser

from bot.sources.normalize import canonical_url, normalize_language
from bot.sources.rawfeed import RawEntry, RawFeed

_DECL_ENCODING = re.compile(rb"<\?xml[^>]*?encoding=[\"']([\w.:-]+)", re.IGNORECASE)
_ROOT = re.compile(rb"<(?![?!])(?:\w+:)?(\w+)")
_ITEM = re.compile(rb"<(?:\w+:)?(?:item|entry)[\s>]")
_HEAD_FIELD = re.compile(
    rb"<(?:\w+:)?(language|ttl|updatePeriod|updateFrequency)>\s*(?:<!\[CDATA\[)?\s*"
    rb"([^<\]]*?)\s*(?:\]\]>)?\s*</"
)
_XML_LANG = re.compile(rb"xml:lang=[\"']([\w-]+)")
_SCHEME_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*://)(/*)(.*?)")
# Matched against the lower-cased bytes: the same matches as IGNORECASE (ASCII only for
# bytes), but a literal start lets the regex engine jump between candidates (5x faster).
_NOT_PERMALINK = re.compile(rb"ispermalink\s*=\s*[\"']false")
_ID_ELEMENT = re.compile(rb"<(?:\w+:)?(?:guid|id)[\s>]")
_LINK_ELEMENT = re.compile(rb"<link[\s>]")
# A text element whose text is followed by a child element, not by CDATA or its end tag.
_RAW_MARKUP = re.compile(
    rb"<(?:title|description|summary|content:encoded)(?:\s[^>]*)?>[^<]*<(?![!/])"
)
_TAGS = re.compile(r"<[^>]+>")
_UNDEFINED_ENTITY = expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAMED_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]*);")
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)
_RSS_ITEM = re.compile(rb"<item[\s>].*?</item>", re.DOTALL)
_GUID = re.compile(rb"<guid(\s[^>]*)?>")
# feedparser lower-cases attribute names, not values: only "true" (or none) is a permalink.
_PERMALINK = re.compile(rb"""\bispermalink\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_ITUNES_SUMMARY = re.compile(rb"<itunes:summary(?:\s[^>]*)?>(.*?)</itunes:summary>", re.DOTALL)
_DESCRIPTION = re.compile(rb"<description(?:\s[^>]*)?>(.*?)</description>", re.DOTALL)
_SUMMARY_ELEMENT = re.compile(rb"<(?:description|summary)[\s/>]")
_EMPTY_SUMMARY = re.compile(
    rb"<(description|summary)(?:\s[^>]*)?(?:/>|>\s*(?:<!\[CDATA\[\s*\]\]>)?\s*</\1>)"
)


class Declined(Exception):
    """fastfeedparser's reading may differ from feedparser's; the message says why."""


def read_fast(body: bytes, *, url: str, charset: str | None = None) -> RawFeed:
    """Read ``body`` (an entity-free XML document) with fastfeedparser, or decline.

    ``url`` is the base feedparser resolves relative ids against; ``charset`` the one the
    server declared, if any.
    """
    body, warnings = _check_utf8_and_well_formed(body, charset)
    if b'type="xhtml"' in body or b"type='xhtml'" in body:
        raise Declined("xhtml text: fastfeedparser keeps the wrapper or the first text node")
    if b"<itunes:summary" in body and not _summaries_repeat_descriptions(body):
        raise Declined("itunes:summary: feedparser reads it as the summary or the content")
    if _RAW_MARKUP.search(body):
        raise Declined("unescaped markup in a text element: fastfeedparser reads up to it")
    try:
        parsed: Any = fastfeedparser.parse(  # bytes, never a URL: it cannot fetch
            body, include_tags=False, include_enclosures=False
        )
    except Exception as exc:  # ValueError and lxml's errors: "not a feed I can read"
        raise Declined(f"fastfeedparser: {type(exc).__name__}: {exc}") from exc
    if not parsed.get("entries"):
        raise Declined("no items")
    if len(_ITEM.findall(body)) != len(parsed["entries"]):
        raise Declined("items nested or missed")
    feed = parsed.get("feed", {})
    head = _head_fields(body)
    version = _version(body)
    if version == "rss10" and b"content:encoded" in body:
        raise Declined("RSS 1.0 with content:encoded, which fastfeedparser does not read")
    # An empty summary is none: fastfeedparser makes one up there too.
    summaries = len(_SUMMARY_ELEMENT.findall(body)) - len(_EMPTY_SUMMARY.findall(body))
    shape = _Shape(
        resolve=_resolves_guids(body),
        real_summaries=_real_summaries(summaries, len(parsed["entries"]), version),
        xml_base=b"xml:base" in body,
        links_everywhere=len(_LINK_ELEMENT.findall(body)) > len(parsed["entries"]),
        ids_everywhere=len(_ID_ELEMENT.findall(body))
        >= len(parsed["entries"]) + (version == "atom10"),  # Atom's feed has an <id> too
    )
    entries = parsed["entries"]
    return RawFeed(
        version=version,
        title=feed.get("title"),
        link=_alternate(feed) if version == "atom10" else feed.get("link"),
        language=feed.get("language") or head.get("language"),
        ttl=head.get("ttl"),
        sy_period=head.get("updatePeriod"),
        sy_frequency=head.get("updateFrequency"),
        warnings=warnings,
        entries=[
            _entry(e, url, version, shape, resolve)
            for e, resolve in zip(entries, _resolve_each(body, shape, len(entries)), strict=True)
        ],
    )


def _check_utf8_and_well_formed(body: bytes, charset: str | None) -> tuple[bytes, list[str]]:
    """The body to read, and why it is malformed if it is: HTML's named entities (an
    undefined ``&colon;`` in XML) become character references, with a warning; any other
    fault declines."""
    declared = _DECL_ENCODING.match(body.lstrip(b"\xef\xbb\xbf \t\r\n"))
    for name in (charset, declared.group(1).decode() if declared else None):
        if name and name.lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii"):
            raise Declined(f"encoding {name}")
    try:
        _scan(body)
        return body, []
    except expat.ExpatError as exc:
        if exc.code != _UNDEFINED_ENTITY:
            raise Declined(f"malformed XML: {exc}") from exc
        undefined = exc
    fixed, names = _html_entities_as_references(body)
    try:
        _scan(fixed)
    except expat.ExpatError as exc:
        raise Declined(f"malformed XML: {undefined}") from exc
    return fixed, [f"undefined entities read as HTML's: {', '.join(sorted(names))}"]


def _scan(body: bytes) -> None:
    checker = expat.ParserCreate()  # no handlers: a C-speed scan, no tree, no fetches
    checker.Parse(body, True)


def _html_entities_as_references(body: bytes) -> tuple[bytes, set[str]]:
    """Every ``&name;`` that XML does not define but HTML does, as character references,
    outside CDATA sections (where it is text, for HTML to decode later anyway)."""
    names: set[str] = set()

    def reference(match: re.Match[bytes]) -> bytes:
        name = match.group(1).decode()
        value = html.entities.html5.get(name + ";")
        if name in _XML_ENTITIES or value is None:
            return match.group(0)
        names.add(name)
        return "".join(f"&#{ord(c)};" for c in value).encode()

    pieces = _CDATA.split(body)  # CDATA sections at the odd indexes
    for i in range(0, len(pieces), 2):
        pieces[i] = _NAMED_ENTITY.sub(reference, pieces[i])
    return b"".join(pieces), names


def _head_fields(body: bytes) -> dict[str, str]:
    """``<language>`` (or ``xml:lang``), ``<ttl>`` and ``sy:update*`` from the channel,
    before any item."""
    first = _ITEM.search(body)
    head = body[: first.start()] if first else body[:65536]
    fields: dict[str, str] = {}
    for match in _HEAD_FIELD.finditer(head):
        fields.setdefault(match.group(1).decode(), match.group(2).decode("utf-8", "replace"))
    if "language" not in fields and (lang := _XML_LANG.search(head)):
        fields["language"] = lang.group(1).decode()  # the root's, which items inherit
    return fields


def _version(body: bytes) -> str:
    """The format, roughly as feedparser names it (nothing reads more than its family)."""
    root = _ROOT.search(body)
    name = root.group(1).decode().lower() if root else ""
    return {"rss": "rss20", "feed": "atom10", "rdf": "rss10"}.get(name, name)


def _alternate(feed: Any) -> str | None:
    """The ``rel="alternate"`` link (Atom's default rel), as feedparser picks it."""
    for link in feed.get("links") or []:
        if link.get("href") and link.get("rel") in (None, "alternate"):
            return str(link["href"])
    return None if feed.get("links") else feed.get("link")


def _real_summaries(found: int, items: int, version: str) -> bool | None:
    """Whether every item has its own summary (True), none has (False), or some (None).

    fastfeedparser makes a summary up from the content when an item has none; feedparser
    copies the content, so the standfirst differs unless we can tell which is which.
    """
    if found >= items:
        return True
    return False if found <= (0 if version == "atom10" else 1) else None


def _resolves_guids(body: bytes) -> bool | None:
    """Whether feedparser resolves this feed's ids as URIs: it does unless the guid says
    ``isPermaLink="false"``. None when some guids say so and others do not."""
    not_links = len(_NOT_PERMALINK.findall(body.lower()))
    if not not_links:
        return True
    return False if not_links == body.count(b"<guid") else None


def _summaries_repeat_descriptions(body: bytes) -> bool:
    """Whether every ``itunes:summary`` sits in an RSS item that has one ``<description>``
    with the same bytes, and comes after it and after any ``content:encoded``: then
    feedparser either overwrites the summary with the same value or, with no content
    yet, takes it as the content, the same text as the summary (one text, no standfirst)."""
    first = _ITEM.search(body)
    if first is None or body.count(b"<itunes:summary", first.start()) != body.count(
        b"</itunes:summary>", first.start()
    ):
        return False
    items = _RSS_ITEM.findall(body, first.start())
    if sum(item.count(b"<itunes:summary") for item in items) != body.count(
        b"<itunes:summary", first.start()
    ):
        return False  # one outside an item (or in an Atom entry)
    for item in items:
        summaries = _ITUNES_SUMMARY.findall(item)
        if not summaries:
            continue
        descriptions = list(_DESCRIPTION.finditer(item))
        if len(summaries) != 1 or len(descriptions) != 1:
            return False
        if summaries[0] != descriptions[0].group(1):
            return False
        after = max(descriptions[0].end(), item.rfind(b"</content:encoded>"))
        if item.find(b"<itunes:summary") < after:
            return False
    return True


def _resolve_each(body: bytes, shape: _Shape, entries: int) -> list[bool | None]:
    """Per item, whether feedparser resolves its id (see ``_resolves_guids``): the same
    for all when all guids agree, else each RSS item's own ``<guid>``, when every item
    has exactly one; None where the bytes cannot tell."""
    if shape.resolve is not None:
        return [shape.resolve] * entries
    first = _ITEM.search(body)
    items = _RSS_ITEM.findall(body, first.start()) if first else []
    flags: list[bool | None] = []
    for item in items:
        guids = _GUID.findall(item)
        if len(guids) != 1:
            return [None] * entries
        permalink = _PERMALINK.search(guids[0])
        flags.append(permalink is None or permalink.group(1) == b"true")
    return flags if len(flags) == entries else [None] * entries


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the bytes tell about every item, where fastfeedparser's output cannot."""

    resolve: bool | None  # see _resolves_guids
    real_summaries: bool | None  # every item has a summary (True), none (False), some (None)
    xml_base: bool  # feedparser resolves against xml:base, not the feed URL
    links_everywhere: bool  # a <link> element per item: no link was copied from a guid
    ids_everywhere: bool  # an id element per item: no id was copied from the link


def _entry(entry: Any, base: str, version: str, shape: _Shape, resolve: bool | None) -> RawEntry:
    contents = entry.get("content") or []
    content = contents[0].get("value") if contents else None
    link = _alternate(entry) if version == "atom10" else entry.get("link")
    if version == "atom10" and link and not entry.get("links"):
        raise Declined("an Atom link outside the links it read (prefixed elements)")
    if not link and entry.get("links"):
        raise Declined("atom:link in an RSS item, and no link read")
    if shape.xml_base and link and not urllib.parse.urlsplit(link).scheme:
        raise Declined("a relative link under xml:base")
    guid = entry.get("id")
    if guid is not None:
        link_copied = not (resolve is True or shape.links_everywhere)
        id_copied = not shape.ids_everywhere and canonical_url(link) != link
        if guid == link and (link_copied or id_copied):
            raise Declined("an id equal to the link: the guid, or one copied from the other?")
        absolute = _resolve(base, guid)
        if absolute != guid and (resolve is None or shape.xml_base):
            raise Declined("a relative guid, and isPermaLink varies or xml:base is set")
        guid = absolute if resolve else guid
        if not link and resolve:
            link = guid  # feedparser, too: a permalink guid stands in for a missing link
    summary = _summary(entry.get("description"), content, shape.real_summaries)
    media = [m["description"] for m in entry.get("media_content") or [] if m.get("description")]
    if not summary and not content and media:
        summary = media[0]  # feedparser reads media:description as the summary
    stamp = entry.get("published") or entry.get("updated")
    return RawEntry(
        guid=guid,
        link=link,
        title=entry.get("title"),
        content_html=content,
        summary_html=summary,
        published=datetime.fromisoformat(stamp).replace(microsecond=0) if stamp else None,
        author=entry.get("author"),
        language=normalize_language(contents[0].get("language")) if contents else None,
    )


def _summary(summary: str | None, content: str | None, real: bool | None) -> str | None:
    """The summary as feedparser has it: where fastfeedparser made one up from the
    content (the item had none), feedparser copies the content itself."""
    if not (summary and content) or real is True:
        return summary
    return content if real is False or summary == _made_up_summary(content) else summary


def _made_up_summary(content: str) -> str:
    """The summary fastfeedparser (0.6) writes for an item without one: the content's
    first 512 characters of text. Used where some items have a summary and some not."""
    text = content
    if "<" in text and ">" in text:
        text = _TAGS.sub(" ", text[:2048])
        text = html.unescape(text) if "&" in text else text
    spaced = any(ws in text for ws in ("  ", "\n", "\t", "\r"))
    return (" ".join(text.split()) if spaced else text.strip())[:512]


def _resolve(base: str, uri: str) -> str:
    """An id made absolute the way feedparser makes it (it treats ids as URIs)."""
    try:
        return urllib.parse.urljoin(base, _SCHEME_SLASHES.sub(r"\1\3", uri))
    except ValueError:
        return ""
