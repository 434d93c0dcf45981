"""Normalising what feeds say: UTC dates, plain text, canonical URLs, titles, languages.

Pure functions, no I/O, safe to call in worker processes. Feeds in the wild carry
missing and future dates, HTML with scripts in plain-text fields, tracking parameters
that make one article look like many, and titles full of entities and line breaks;
everything downstream (dedupe, summaries, chat rendering) relies on these being tidy.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import html
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

# A date this far ahead of the fetch time is a feed's clock or time-zone bug, not news.
FUTURE_TOLERANCE = timedelta(hours=1)
# Dates before this are placeholders (the epoch, year 1) rather than publication dates.
EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)

_TRACKING_PREFIXES = ("utm_", "_hs", "mc_", "pk_", "mtm_", "oly_")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "twclid",
        "li_fat_id",
        "mkt_tok",
        "vero_id",
        "_ga",
        "_gl",
        "ocid",
        "cmpid",
        "xtor",
        "at_medium",
        "at_campaign",
    }
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg")
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "hr",
    ]
)
# A run of spaces (tabs, no-break and zero-width spaces...) to make one space. A lone
# space is left alone: matching it too made ``sub`` rebuild every string piece by piece,
# and starting with a character class lets the regex engine skip to the next candidate.
_SPACE = r"[ \t\r\f\v\u00a0\u200b]"
_SPACES = re.compile(rf"{_SPACE}(?:(?<=[^ ])|{_SPACE}){_SPACE}*")
# collapse_ws: the same runs, once the rare spaces are plain ones.
_RARE_SPACES = ("\t", "\r", "\f", "\v", "\u00a0", "\u200b")
_SPACE_RUN = re.compile(" {2,}")
# lxml.html's parser with its options, but handing out plain elements (see _fragment_document).
_HTML_PARSER = lxml.etree.HTMLParser()
_UTF8_PARSER = lxml.etree.HTMLParser(encoding="utf-8")
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.IGNORECASE)
# The body's text, a line break before and after each block element, without the drop
# tags, comments and processing instructions (XSLT's defaults skip those two).
_TEXT_OF_BODY = lxml.etree.XSLT(
    lxml.etree.XML(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="UTF-8"/>'
        '<xsl:template match="/"><xsl:apply-templates select="html/body/node()"/></xsl:template>'
        f'<xsl:template match="{"|".join(sorted(_BLOCK_TAGS))}"><xsl:text>&#10;</xsl:text>'
        "<xsl:apply-templates/><xsl:text>&#10;</xsl:text></xsl:template>"
        f'<xsl:template match="{"|".join(_DROP_TAGS)}"/>'
        "</xsl:stylesheet>"
    )
)
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


def to_utc(value: time.struct_time | datetime | None, *, now: datetime) -> tuple[datetime, bool]:
    """Return an aware UTC date and whether the feed's own date was usable.

    feedparser's ``*_parsed`` values are UTC ``struct_time``s. A missing or implausibly old
    date becomes ``now`` (the fetch time); a date more than an hour ahead is clamped to
    ``now`` so a broken clock cannot pin an item to the top of every briefing.
    """
    if value is None:
        return now, False
    try:
        if isinstance(value, datetime):
            stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
            stamp = stamp.astimezone(UTC)
        else:
            stamp = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return now, False
    if stamp < EARLIEST_PLAUSIBLE:
        return now, False
    if stamp > now + FUTURE_TOLERANCE:
        return now, False
    return stamp, True


def parse_iso_date(text: str | None) -> datetime | None:
    """RFC 3339 dates as JSON Feed uses them, RFC 822 accepted too; None when unparsable."""
    if not text:
        return None
    candidate = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    try:  # some JSON feeds use RSS-style dates
        return email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None


def collapse_ws(text: str) -> str:
    """Collapse runs of spaces within lines and blank lines between paragraphs.

    Every whitespace run holding a line break becomes one line break, every other run of
    spaces (tabs, no-break and zero-width spaces...) one space. The rare spaces become
    plain ones first (``str.replace`` finds none at memory speed), so the regex that
    collapses runs has a literal to skip to and runs only on lines that hold a run;
    splitting on line breaks and stripping each line does the rest (``\\s*\\n\\s*``, a
    pattern that may start anywhere, was a quarter of a parse worker's time):
    ``str.strip`` and ``\\s`` agree on what whitespace is.
    """
    for rare in _RARE_SPACES:
        if rare in text:
            text = text.replace(rare, " ")
    if "\n" not in text:
        text = text.strip()
        return _SPACE_RUN.sub(" ", text) if "  " in text else text
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(
        [_SPACE_RUN.sub(" ", line) if "  " in line else line for line in lines if line]
    )


def html_to_text(fragment: str | None) -> str:
    """Plain text from an HTML fragment: scripts and styles dropped, entities decoded.

    Block elements become line breaks so paragraphs survive for the summariser. Text with
    no markup takes a fast path: feeds often put plain text in HTML fields.
    """
    if not fragment:
        return ""
    if "<" not in fragment:
        return collapse_ws(html.unescape(fragment))
    try:
        doc = _fragment_document(fragment)
        if doc is not None:
            return collapse_ws(str(_TEXT_OF_BODY(doc)))
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return collapse_ws(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    except lxml.etree.XSLTApplyError:  # nested past the stylesheet's depth: the slow way
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    # Tree surgery in C (lxml); Python touches only block elements, to mark line breaks.
    lxml.etree.strip_elements(
        root, *_DROP_TAGS, lxml.etree.Comment, lxml.etree.ProcessingInstruction, with_tail=False
    )
    for block in root.iter(*_BLOCK_TAGS):
        block.text = "\n" + (block.text or "")
        block.tail = "\n" + (block.tail or "")
    text = lxml.etree.tostring(root, method="text", encoding="unicode", with_tail=False)
    return collapse_ws(text)


def _fragment_document(fragment: str) -> lxml.etree._Element | None:
    """The fragment parsed inside ``<html><body>``, into plain elements; None when the
    body is not where ``lxml.html.fragment_fromstring`` would find it (a fragment that
    is a whole document, or that the parser split), for ``lxml.html`` to read.

    ``_TEXT_OF_BODY`` then does in C what the tree surgery in ``html_to_text`` does with a
    Python loop over the block elements (a fifth of the function's time), and gives the
    same text. Whitespace before the first element, which ``lxml.html`` drops, is
    stripped from the text anyway.
    """
    if _FULL_DOCUMENT.match(fragment):
        return None
    wrapped = f"<html><body>{fragment}</body></html>"
    try:  # UTF-8 bytes spare libxml2 an iconv pass over the string's own encoding
        doc = lxml.etree.fromstring(wrapped.encode(), _UTF8_PARSER)
    except UnicodeEncodeError:  # a lone surrogate: read the str, as lxml always did
        doc = lxml.etree.fromstring(wrapped, _HTML_PARSER)
    if doc is None:
        raise lxml.etree.ParserError("Document is empty")
    bodies = sum(e.tag == "body" for e in doc)
    return doc if doc.tag == "html" and bodies == 1 else None


def clean_title(raw: str | None, *, fallback_text: str = "") -> str:
    """One-line title without markup; falls back to the text's opening words."""
    title = html_to_text(raw).replace("\n", " ") if raw else ""
    title = _SPACES.sub(" ", title).strip()
    if not title and fallback_text:
        words = fallback_text.replace("\n", " ")
        title = words if len(words) <= 80 else words[:79].rsplit(" ", 1)[0] + "…"
    return title or "(untitled)"


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """A URL that compares equal for the same article: the key to cross-feed dedupe.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters
    (``utm_*``, ``fbclid``, ``gclid`` ...), keeps the other parameters in order. Returns
    None for anything that is not an absolute http(s) URL.
    """
    if not url:
        return None
    try:
        parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and not (
        (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query, doseq=True), ""))


def host_of(url: str) -> str:
    """The URL's host without ``www.``, as a source name of last resort."""
    host = (urlsplit(url).hostname or url).lower()
    return host.removeprefix("www.")


def normalize_language(value: str | None) -> str | None:
    """Primary language subtag, lower case (``en-US`` → ``en``); None when not a tag."""
    if not value:
        return None
    value = value.strip()
    if not _LANG.match(value):
        return None
    return re.split(r"[-_]", value, maxsplit=1)[0].lower()


def content_key(title: str, text: str) -> str:
    """Key of last resort for items with neither guid nor link."""
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return f"sha256:{digest}"
