"""Normalising dates, text, URLs, titles and languages."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.sources.normalize import (
    canonical_url,
    clean_title,
    collapse_ws,
    html_to_text,
    normalize_language,
    parse_iso_date,
    to_utc,
)

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://News.Example.COM/a/b?id=3#comments", "https://news.example.com/a/b?id=3"),
        (
            "https://x.test/p?utm_source=rss&utm_medium=feed&id=9&fbclid=abc&gclid=1&ref=home",
            "https://x.test/p?id=9&ref=home",
        ),
        ("http://x.test:80/p", "http://x.test/p"),
        ("https://x.test:443", "https://x.test/"),
        ("https://x.test:8443/p", "https://x.test:8443/p"),
        ("https://x.test/p?mc_cid=1&_hsenc=2&msclkid=3", "https://x.test/p"),
        ("/relative/path?utm_campaign=x", "https://base.test/relative/path"),
        ("mailto:someone@example.com", None),
        ("javascript:alert(1)", None),
        ("", None),
        ("http://[::1", None),
    ],
)
def test_canonical_url(url: str, expected: str | None) -> None:
    assert canonical_url(url, base="https://base.test/feed") == expected


def test_html_to_text_drops_scripts_and_decodes_entities() -> None:
    html = (
        "<div><style>p{color:red}</style><p>Caf&eacute; &amp; bar &#8211; open</p>"
        "<script>alert('x')</script><p>Second&nbsp;paragraph<br>new line</p>"
        "<!-- a comment --><noscript>enable js</noscript></div>"
    )
    assert html_to_text(html) == "Café & bar – open\nSecond paragraph\nnew line"


def test_html_to_text_plain_and_broken_input() -> None:
    assert html_to_text("Tom &amp; Jerry  say   hi") == "Tom & Jerry say hi"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"
    assert html_to_text("a < b and c > d") == "a < b and c > d"
    assert html_to_text(None) == ""


@pytest.mark.parametrize(
    "text",
    [
        "a \n  \n b",
        " \t lead\u00a0\u00a0and  tail \n",
        "one\u200b\u200btwo\tthree",
        "x\u2028\ny\u3000\n\u3000z",
        "\n\n",
        "single spaces stay single",
        "tab\tthen\r\n crlf",
        "\u200b lead and \u00a0 tail \u200b",
        "a\f\v b  c\n  d \u2009 e  \n",
    ],
)
def test_collapse_ws_is_the_regex_definition(text: str) -> None:
    """Each run of spaces becomes one space, each whitespace run holding a line break one
    line break (the line-splitting implementation must say exactly that)."""
    spaces = re.sub(r"[ \t\r\f\v\u00a0\u200b]+", " ", text)
    assert collapse_ws(text) == re.sub(r"\s*\n\s*", "\n", spaces).strip()


def test_html_to_text_documents_and_leading_text() -> None:
    assert html_to_text("lead <b>bold</b> tail<p>para</p>after") == "lead bold tail\npara\nafter"
    assert html_to_text("<html><body><p>x</p><p>y</p></body></html>") == "x\ny"
    assert html_to_text("  <!DOCTYPE html><title>T</title><p>body</p>") == "body"


def test_html_to_text_blocks_and_control_characters() -> None:
    """Nested blocks, lists and dropped elements inside blocks; a control character
    between blocks (lxml refuses it in text set from Python) does not stop the feed."""
    html = (
        "<ul><li>one<li>two <em>and</em> <b>three</b></ul><table><tr><td>cell</td></tr>"
        "</table><div><svg><text>no</text></svg><h2>Head</h2>tail</div>"
    )
    assert html_to_text(html) == "one\ntwo and three\ncell\nHead\ntail"
    assert html_to_text("<p>a</p>\f<div>b</div>") == "a\nb"


def test_clean_title() -> None:
    assert clean_title("  Breaking:\n  <b>Storm</b> &amp; floods ") == "Breaking: Storm & floods"
    assert clean_title("", fallback_text="Only a body here") == "Only a body here"
    long_body = "word " * 40
    assert clean_title(None, fallback_text=long_body).endswith("…")
    assert clean_title(None) == "(untitled)"


def test_to_utc() -> None:
    kyiv = timezone(timedelta(hours=2))
    assert to_utc(datetime(2026, 3, 1, 10, tzinfo=kyiv), now=NOW) == (
        datetime(2026, 3, 1, 8, tzinfo=UTC),
        True,
    )
    assert to_utc(time.strptime("2026-03-01 10:00", "%Y-%m-%d %H:%M"), now=NOW)[0] == datetime(
        2026, 3, 1, 10, tzinfo=UTC
    )
    assert to_utc(None, now=NOW) == (NOW, False)
    assert to_utc(datetime(2030, 1, 1, tzinfo=UTC), now=NOW) == (NOW, False)  # future
    assert to_utc(datetime(1970, 1, 1, tzinfo=UTC), now=NOW) == (NOW, False)  # placeholder
    assert to_utc(NOW + timedelta(minutes=30), now=NOW)[1]  # small clock skew is fine


def test_parse_iso_date_and_language() -> None:
    assert parse_iso_date("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_iso_date("Sun, 01 Mar 2026 10:00:00 +0000") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_iso_date("yesterday") is None
    assert normalize_language("en-US") == "en"
    assert normalize_language("uk_UA") == "uk"
    assert normalize_language("English!") is None
