"""What an XML feed parser read, in one neutral shape, and feedparser's reading of it.

Two parsers read RSS and Atom (``fastparse`` first, feedparser as the fallback and the
reference); both hand ``parse.py`` a ``RawFeed``, and one builder there turns it into
drafts, so the two paths cannot drift apart after parsing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import feedparser

from bot.sources.normalize import normalize_language


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One item as the parser read it: markup and raw strings, nothing normalised yet."""

    guid: str | None
    link: str | None
    title: str | None
    content_html: str | None  # the longest full-content body, if any
    summary_html: str | None
    published: time.struct_time | datetime | None  # struct_time from feedparser is UTC
    author: str | None
    language: str | None  # the item's own language (normalised), if it declares one


@dataclass(frozen=True, slots=True)
class RawFeed:
    """The feed's metadata and items; ``warnings`` are reasons to call it malformed."""

    version: str
    title: str | None
    link: str | None
    language: str | None
    ttl: str | None = None
    sy_period: str | None = None
    sy_frequency: str | None = None
    entries: list[RawEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_with_feedparser(body: bytes, headers: dict[str, str]) -> RawFeed:
    """feedparser's reading, with sanitising and URI rewriting off: we keep plain text."""
    parsed: Any = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    feed = parsed.get("feed", {})
    warnings = []
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warnings.append(f"{type(exc).__name__}: {exc}" if exc else "malformed feed")
    return RawFeed(
        version=parsed.get("version") or "",
        title=feed.get("title"),
        link=feed.get("link"),
        language=feed.get("language"),
        ttl=feed.get("ttl"),
        sy_period=feed.get("sy_updateperiod"),
        sy_frequency=feed.get("sy_updatefrequency"),
        entries=[_feedparser_entry(entry) for entry in parsed.get("entries", [])],
        warnings=warnings,
    )


def _feedparser_entry(entry: Any) -> RawEntry:
    contents = [c for c in entry.get("content", []) if c.get("value")]
    lang = None
    for detail in (*contents, entry.get("summary_detail") or {}, entry.get("title_detail") or {}):
        lang = lang or normalize_language(detail.get("language"))
    return RawEntry(
        guid=entry.get("id"),
        link=entry.get("link"),
        title=entry.get("title"),
        content_html=max((c["value"] for c in contents), key=len) if contents else None,
        summary_html=entry.get("summary"),
        published=(
            entry.get("published_parsed")
            or entry.get("updated_parsed")
            or entry.get("created_parsed")
        ),
        author=entry.get("author"),
        language=lang,
    )
