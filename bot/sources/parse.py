"""Feed bytes → ``ParsedFeed``: RSS/Atom through fastfeedparser where it reads them as
feedparser would (``fastparse``), else through feedparser; JSON Feed by hand; one output.

``parse_feed`` is synchronous, pure and picklable in and out, so the poller runs it in a
process pool. A malformed ("bozo") feed yields what parsed plus a warning and never
raises; bytes that are no feed at all (an HTML page, an empty body) raise ``ParseError``.
Entity declarations are stripped before either XML parser runs, so a billion-laughs
document cannot expand, whatever the expat or libxml2 version; gzip bodies inflate to at
most ``MAX_UNZIPPED`` first, also for both.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bot.core.models import ArticleDraft
from bot.errors import ParseError
from bot.sources.fastparse import Declined, read_fast
from bot.sources.normalize import (
    canonical_url,
    clean_title,
    content_key,
    host_of,
    html_to_text,
    normalize_language,
    parse_iso_date,
    to_utc,
)
from bot.sources.rawfeed import RawEntry, RawFeed, read_with_feedparser

log = logging.getLogger(__name__)

MAX_UNZIPPED = 10 * 1024 * 1024
_SY_PERIOD_S = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000}
_SY_PERIOD_S["yearly"] = 31536000
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*\[", re.IGNORECASE)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_UTF16_DECL = re.compile(rb"<\?xml[^>]*?encoding=[\"'](utf-16(?:[lb]e)?)[\"']", re.IGNORECASE)
_SUBSET_END = re.compile(rb"\]\s*>")
_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's metadata and its items as drafts (deduplicated by key, first kept).

    ``raw_entries`` is how many items the parser saw before dedupe; ``bozo`` is the
    parser's warning for a malformed but usable feed.
    """

    title: str | None
    link: str | None
    language: str | None
    format: str
    entries: list[ArticleDraft] = field(default_factory=list)
    raw_entries: int = 0
    ttl_s: int | None = None  # RSS <ttl>, in seconds
    update_period_s: int | None = None  # sy:updatePeriod / sy:updateFrequency, in seconds
    bozo: str | None = None
    parser: str = "feedparser"  # which parser read it: "fastfeedparser", "feedparser", "json"

    @property
    def interval_hint_s(self) -> int | None:
        """The longest refresh interval the feed asks for, if it asks."""
        hints = [h for h in (self.ttl_s, self.update_period_s) if h]
        return max(hints) if hints else None


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    now: datetime | None = None,
    fast: bool = True,
) -> ParsedFeed:
    """Parse any supported feed format; raise ``ParseError`` when ``body`` is not a feed.

    ``url`` is the feed's (final) URL: the base for relative links and the source name of
    last resort. ``now`` (the fetch time, UTC) replaces missing and future item dates.
    ``fast=False`` reads RSS and Atom with feedparser alone, the reference.
    """
    now = now or datetime.now(UTC)
    if body[:2] == b"\x1f\x8b":  # gzip without Content-Encoding (served as a .gz file)
        body = _gunzip(body, url)
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") or "json" in (content_type or "").lower():
        return _parse_json_feed(body, url=url, now=now)
    return _parse_xml_feed(body, url=url, content_type=content_type, now=now, fast=fast)


def _gunzip(body: bytes, url: str, limit: int = MAX_UNZIPPED) -> bytes:
    """Decompress at most ``limit`` bytes, so a gzip bomb stays a small problem."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit)
    except zlib.error as exc:
        raise ParseError(f"parse: {url}: not a feed (broken gzip: {exc})") from exc
    if inflater.unconsumed_tail:
        raise ParseError(f"parse: {url}: gzip body inflates past {limit // 1_048_576} MB")
    return out


def _strip_entity_declarations(body: bytes) -> tuple[bytes, bool]:
    """Drop an internal DTD subset that declares entities (billion-laughs defence)."""
    match = _DOCTYPE.search(body, 0, 65536)
    if match is None or b"<!ENTITY" not in body[match.end() : match.end() + 1_000_000]:
        return body, False
    close = _SUBSET_END.search(body, match.end())
    rest = body[close.end() :] if close else b""
    return body[: match.start()] + rest, True


def _fix_false_utf16(body: bytes) -> bytes:
    """A declaration saying UTF-16 over bytes without NULs is a lie; say UTF-8 instead."""
    match = _UTF16_DECL.match(body)
    if match is None or b"\x00" in body[:256]:
        return body
    return body[: match.start(1)] + b"utf-8" + body[match.end(1) :]


def _parse_xml_feed(
    body: bytes, *, url: str, content_type: str | None, now: datetime, fast: bool
) -> ParsedFeed:
    raw, parser = read_xml(body, url=url, content_type=content_type, fast=fast)
    if not raw.version and not raw.entries:
        what = "an HTML page" if _HTML_SNIFF.search(body[:4096]) else "no RSS, Atom or JSON Feed"
        if not body.strip():
            what = "an empty body"
        raise ParseError(f"parse: {url}: not a feed ({what})")
    warnings = raw.warnings
    title = clean_title(raw.title) if raw.title else None
    language = normalize_language(raw.language)
    source = title or host_of(url)
    drafts = [
        _entry_draft(entry, source=source, base=url, language=language, now=now)
        for entry in raw.entries
    ]
    return ParsedFeed(
        title=title,
        link=canonical_url(raw.link, base=url),
        language=language,
        format=raw.version or "unknown",
        entries=_dedupe(drafts),
        raw_entries=len(drafts),
        ttl_s=_minutes(raw.ttl),
        update_period_s=_sy_period(raw.sy_period, raw.sy_frequency),
        bozo="; ".join(warnings) or None,
        parser=parser,
    )


def read_xml(
    body: bytes, *, url: str, content_type: str | None = None, fast: bool = True
) -> tuple[RawFeed, str]:
    """The XML reading alone, and which parser did it: fastfeedparser where it reads the
    bytes as feedparser would, else feedparser. Both see the bytes only after the entity
    defence, here, in one place."""
    body, stripped = _strip_entity_declarations(_fix_false_utf16(body))
    raw, parser = None, "fastfeedparser"
    if fast:
        charset = _CHARSET.search(content_type or "")
        try:
            raw = read_fast(body, url=url, charset=charset.group(1) if charset else None)
        except Declined as why:
            log.debug("parse: feed_url=%s falls back to feedparser: %s", url, why)
    if raw is None:
        raw = read_with_feedparser(body, _feedparser_headers(url, content_type))
        parser = "feedparser"
    if stripped:
        raw = replace(raw, warnings=["entity declarations removed", *raw.warnings])
    return raw, parser


def _feedparser_headers(url: str, content_type: str | None) -> dict[str, str]:
    """A feed served as text/html or text/plain is still a feed: let feedparser sniff it,
    keeping only the charset the server declared."""
    headers = {"content-location": url, "content-type": "application/xml"}
    if content_type and "xml" in content_type.lower():
        headers["content-type"] = content_type
    elif content_type and (charset := _CHARSET.search(content_type)):
        headers["content-type"] = f"application/xml; charset={charset.group(1)}"
    return headers


def _entry_draft(
    entry: RawEntry, *, source: str, base: str, language: str | None, now: datetime
) -> ArticleDraft:
    summary_text = html_to_text(entry.summary_html)
    body_html = entry.content_html
    # Two thirds of the bench's items carry their content as the summary too (feedparser
    # copies it where an item has none): the same HTML is read once.
    same = not body_html or body_html == entry.summary_html
    text = summary_text if same else html_to_text(body_html)
    standfirst = summary_text if body_html and summary_text and summary_text != text else None
    return _draft(
        source=source,
        guid=entry.guid,
        link=canonical_url(entry.link, base=base),
        title_html=entry.title,
        text=text,
        standfirst=standfirst,
        published_at=to_utc(entry.published, now=now)[0],
        author=entry.author,
        language=entry.language or language,
    )


def _draft(
    *,
    source: str,
    guid: object,
    link: str | None,
    title_html: str | None,
    text: str,
    standfirst: str | None,
    published_at: datetime,
    author: object,
    language: str | None,
) -> ArticleDraft:
    title = clean_title(title_html, fallback_text=text)
    guid_text = str(guid).strip() if guid is not None else ""
    key = guid_text or link or content_key(title, text)
    return ArticleDraft(
        source=source,
        key=key,
        title=title,
        text=text,
        published_at=published_at,
        url=link,
        author=" ".join(str(author).split()) or None if author else None,
        language=language,
        standfirst=standfirst,
    )


def _dedupe(drafts: list[ArticleDraft]) -> list[ArticleDraft]:
    seen: dict[str, ArticleDraft] = {}
    for draft in drafts:
        seen.setdefault(draft.key, draft)
    return list(seen.values())


def _minutes(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _sy_period(period: object, frequency: object) -> int | None:
    seconds = _SY_PERIOD_S.get(str(period or "").strip().lower())
    if seconds is None:
        return None
    try:
        times = max(1, int(str(frequency).strip())) if frequency else 1
    except ValueError:
        times = 1
    return seconds // times


def _parse_json_feed(body: bytes, *, url: str, now: datetime) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1), by hand."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"parse: {url}: not a feed (invalid JSON: {exc})") from exc
    version = str(data.get("version", "")) if isinstance(data, dict) else ""
    if not isinstance(data, dict) or not (
        version.startswith("https://jsonfeed.org/version/") or isinstance(data.get("items"), list)
    ):
        raise ParseError(f"parse: {url}: not a feed (JSON without a JSON Feed version)")
    warnings = [] if version.startswith("https://jsonfeed.org/") else ["no JSON Feed version"]
    items = data.get("items")
    if not isinstance(items, list):
        warnings.append("items is not a list")
        items = []
    title = clean_title(data["title"]) if isinstance(data.get("title"), str) else None
    language = normalize_language(data.get("language"))
    source = title or host_of(url)
    drafts: list[ArticleDraft] = []
    for item in items:
        if not isinstance(item, dict):
            warnings.append("an item is not an object")
            continue
        drafts.append(_json_item(item, source=source, base=url, language=language, now=now))
    return ParsedFeed(
        title=title,
        link=canonical_url(_str(data.get("home_page_url")), base=url),
        language=language,
        format="json" + version.rsplit("/", 1)[-1].replace(".", "") if version else "json",
        entries=_dedupe(drafts),
        raw_entries=len(drafts),
        bozo="; ".join(dict.fromkeys(warnings)) or None,
        parser="json",
    )


def _json_item(
    item: dict[str, Any], *, source: str, base: str, language: str | None, now: datetime
) -> ArticleDraft:
    html_body = _str(item.get("content_html"))
    text = html_to_text(html_body) if html_body else html_to_text(_str(item.get("content_text")))
    summary = html_to_text(_str(item.get("summary")))
    if not text:
        text = summary
    date = parse_iso_date(_str(item.get("date_published"))) or parse_iso_date(
        _str(item.get("date_modified"))
    )
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    names = [a.get("name") for a in authors if isinstance(a, dict) and a.get("name")]
    guid = item.get("id")
    return _draft(
        source=source,
        guid=guid if isinstance(guid, str | int) and not isinstance(guid, bool) else None,
        link=canonical_url(_str(item.get("url")) or _str(item.get("external_url")), base=base),
        title_html=_str(item.get("title")),
        text=text,
        standfirst=summary if summary and summary != text else None,
        published_at=to_utc(date, now=now)[0],
        author=", ".join(map(str, names)) or None,
        language=normalize_language(_str(item.get("language"))) or language,
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
