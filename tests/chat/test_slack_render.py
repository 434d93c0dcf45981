"""Block Kit rendering: escaping of feed text, Slack's limits, splitting without loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.chat.slack_render import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    MAX_SECTION_CHARS,
    render_briefing,
    render_text,
    story_section,
)
from bot.core.models import Briefing, BriefingItem, SourceLink
from tests.fakes.slack_api import check_blocks

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def item(n: int, **overrides: object) -> BriefingItem:
    values: dict[str, object] = {
        "headline": f"Story number {n}",
        "summary": f"Summary of story {n}. " * 8,
        "url": f"https://news.example/{n}",
        "published_at": NOW - timedelta(minutes=n),
        "sources": (SourceLink("Wire", f"https://wire.example/{n}"),),
        "story_id": n,
    }
    values.update(overrides)
    return BriefingItem(**values)  # type: ignore[arg-type]


def briefing(items: list[BriefingItem], topic: str | None = None) -> Briefing:
    return Briefing(
        generated_at=NOW,
        window_start=NOW - timedelta(hours=24),
        window_end=NOW,
        timezone="UTC",
        items=tuple(items),
        topic=topic,
        article_count=len(items) * 2,
        story_count=len(items),
    )


def test_feed_text_that_looks_like_slack_markup_is_inert() -> None:
    evil = "Hello <!channel> @everyone <https://evil|click>"
    story = item(
        1,
        headline=evil,
        summary="Ping <@U123> & <!here> now",
        sources=(SourceLink("<!subteam^S1> Daily", "https://daily.example/a?x=1&y=<2>|z"),),
    )
    text = story_section(story)["text"]["text"]
    assert text == (
        "*<https://news.example/1|Hello &lt;!channel&gt; @everyone &lt;https://evil|click&gt;>*\n"
        "Ping &lt;@U123&gt; &amp; &lt;!here&gt; now\n"
        "Sources: <https://daily.example/a?x=1&amp;y=&lt;2&gt;%7Cz|&lt;!subteam^S1&gt; Daily>"
    )
    [message] = render_briefing(briefing([story]))
    assert "<!channel>" not in message["text"]
    assert "Hello &lt;!channel&gt; @everyone &lt;https://evil|click&gt;" in message["text"]


def test_non_http_links_are_not_linked() -> None:
    story = item(1, url="javascript:alert(1)", sources=(SourceLink("X", "ftp://x.example/"),))
    text = story_section(story)["text"]["text"]
    assert text.startswith("*Story number 1*\n")
    assert "javascript" not in text and "ftp://" not in text


def test_sixty_stories_split_within_limits_and_nothing_is_dropped() -> None:
    stories = [item(n) for n in range(60)]
    messages = render_briefing(briefing(stories))
    assert len(messages) > 1
    seen: list[str] = []
    for index, message in enumerate(messages, start=1):
        blocks = message["blocks"]
        assert check_blocks(blocks) is None
        assert len(blocks) <= MAX_BLOCKS
        assert blocks[0]["type"] == "header"
        assert len(blocks[0]["text"]["text"]) <= MAX_HEADER_CHARS
        assert blocks[0]["text"]["text"].endswith(f"({index}/{len(messages)})")
        assert message["text"]
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
                seen.append(block["text"]["text"].split("|", 1)[1].split(">", 1)[0])
    assert seen == [f"Story number {n}" for n in range(60)]


def test_huge_feed_fields_are_shortened_inside_a_story_not_dropped() -> None:
    many = tuple(SourceLink(f"Source {i}", f"https://s{i}.example/" + "p" * 500) for i in range(9))
    stories = [
        item(
            n, headline="H&" * 400, summary="<b>" * 2000, sources=many, url="https://x/" + "u" * 900
        )
        for n in range(30)
    ]
    messages = render_briefing(briefing(stories))
    sections = [b for m in messages for b in m["blocks"] if b["type"] == "section"]
    assert len(sections) == 30
    for message in messages:
        assert check_blocks(message["blocks"]) is None
    text = sections[0]["text"]["text"]
    assert len(text) <= MAX_SECTION_CHARS
    assert "more" in text.rsplit("Sources:", 1)[1]
    assert "<b>" not in text and text.count("&lt;b&gt;") > 10


def test_sources_beyond_five_become_plus_n_more() -> None:
    sources = tuple(SourceLink(f"S{i}", f"https://s{i}.example/") for i in range(8))
    text = story_section(item(1, sources=sources))["text"]["text"]
    assert text.endswith("<https://s4.example/|S4> · +3 more")


def test_header_and_context_line() -> None:
    [message] = render_briefing(briefing([item(1)], topic="ukraine"))
    header, context = message["blocks"][:2]
    assert header["text"]["text"] == "Briefing on “ukraine” — Wed 25 Nov 2026, 08:00 UTC"
    assert context["elements"][0]["text"].startswith("08:00 UTC · 1 of 1 stories from 2 articles")


def test_empty_briefing_says_so() -> None:
    [message] = render_briefing(briefing([]))
    assert check_blocks(message["blocks"]) is None
    assert message["blocks"][-1]["text"]["text"] == "No new stories in this window."


def test_plain_reply_is_escaped_and_split() -> None:
    lines = [f"feed {n}: https://feeds.example/{n}/rss.xml & friends" for n in range(1000)]
    messages = render_text("Subscribed to <https://feed.example/rss>\n" + "\n".join(lines))
    assert len(messages) > 1
    for message in messages:
        assert check_blocks(message["blocks"]) is None
        assert 0 < len(message["text"]) <= 3000
    first = messages[0]["blocks"][0]["text"]["text"]
    assert first.startswith("Subscribed to &lt;https://feed.example/rss&gt;\nfeed 0:")
    body = "\n".join(b["text"]["text"] for m in messages for b in m["blocks"])
    assert body.count("&amp; friends") == 1000


def test_emphasis_characters_in_a_headline_keep_the_bold_intact() -> None:
    """``*``, ``_``, ``~`` and backticks in a title would end the bold or start
    italics, strike or code; they become look-alikes inside the bold headline only."""
    story = item(1, headline="C*-algebras, snake_case and ~50% of `code`", summary="a_b")
    text = story_section(story)["text"]["text"]
    headline, summary = text.split("\n")[:2]
    inner = headline.removeprefix("*<https://news.example/1|").removesuffix(">*")
    assert headline.startswith("*<") and headline.endswith(">*")
    assert not set("*_~`") & set(inner)
    assert inner == "C\u2217-algebras, snake\u02cdcase and \u223c50% of \u02cbcode\u02cb"
    assert summary == "a_b"  # only the bold headline needs it
