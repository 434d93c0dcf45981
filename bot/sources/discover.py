"""Feed autodiscovery: people paste a site's address, not its feed's.

An HTML page names its feeds in ``<link rel="alternate" type="application/rss+xml">``
(or Atom, JSON Feed); without such a link, a few conventional paths on the same host
are tried as a last resort. Every candidate is fetched through the same SSRF-guarded
fetcher as any feed, so discovery can never reach a private address.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "application/x.atom+xml",
        "text/xml",
        "application/xml",
    }
)
FALLBACK_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.json")
MAX_CANDIDATES = 8
HTML_SNIFF = 2048


def from_feed_scheme(url: str) -> str:
    """``feed:https://x/rss`` → ``https://x/rss``; ``feed://x/rss`` → ``http://x/rss``."""
    stripped = url.strip()
    lowered = stripped.lower()
    if lowered.startswith("feed://"):
        return "http://" + stripped[len("feed://") :]
    if lowered.startswith("feed:"):
        return stripped[len("feed:") :]
    return stripped


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    if content_type and "html" in content_type.lower():
        return True
    head = body[:HTML_SNIFF].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<head" in head


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, title)
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        if tag != "link":
            return
        rel = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES and values.get("href"):
            self.links.append((values["href"].strip(), values.get("title", "").strip()))


def alternate_links(html: bytes, page_url: str) -> list[str]:
    """The page's feed links, absolute, in page order, without repeats."""
    finder = _LinkFinder()
    try:
        finder.feed(html[:1_000_000].decode("utf-8", errors="replace"))
        finder.close()
    except Exception:  # a broken page has no usable links, never an error
        return []
    base = urljoin(page_url, finder.base) if finder.base else page_url
    found: list[str] = []
    for href, _title in finder.links:
        url = urljoin(base, from_feed_scheme(href))
        if urlsplit(url).scheme in {"http", "https"} and url not in found:
            found.append(url)
    return found[:MAX_CANDIDATES]


def fallback_urls(page_url: str) -> list[str]:
    """Conventional feed paths on the page's own host (tried when no link is given)."""
    parts = urlsplit(page_url)
    return [urlunsplit((parts.scheme, parts.netloc, path, "", "")) for path in FALLBACK_PATHS]
