"""Briefing → Discord embeds: limits, splitting without loss, and inert feed text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.chat.discord_render import (
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    embed_length,
    message_nonce,
    neutralise_mentions,
    render_briefing,
    render_text,
    safe_text,
)
from bot.core.models import Briefing, BriefingItem, SourceLink
from tests.fakes.discord_fake import embed_chars, message_problems

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def item(
    n: int, *, summary: str | None = None, sources: int = 3, headline: str = ""
) -> BriefingItem:
    return BriefingItem(
        headline=headline or f"Story number {n}: talks resume in Geneva",
        summary=summary if summary is not None else f"Summary {n}. " + "Officials met again. " * 12,
        url=f"https://news.example/{n}",
        published_at=NOW - timedelta(minutes=n),
        sources=tuple(
            SourceLink(f"Outlet {k}", f"https://outlet{k}.example/{n}") for k in range(sources)
        ),
    )


def briefing(items: list[BriefingItem], topic: str | None = None) -> Briefing:
    return Briefing(
        generated_at=NOW,
        window_start=NOW - timedelta(hours=24),
        window_end=NOW,
        timezone="UTC",
        items=tuple(items),
        topic=topic,
        article_count=len(items) * 3,
        story_count=len(items),
    )


def test_one_story_is_one_embed_with_link_summary_sources_time_and_counts() -> None:
    [message] = render_briefing(briefing([item(1), item(2)]))
    first = message.embeds[0]
    assert first["title"].startswith("Story number 1")
    assert first["url"] == "https://news.example/1"
    assert first["description"].startswith("Summary 1.")
    assert first["fields"][0]["name"] == "Sources"
    assert "[Outlet 0](https://outlet0.example/1)" in first["fields"][0]["value"]
    assert first["timestamp"] == (NOW - timedelta(minutes=1)).isoformat()
    assert first["footer"]["text"] == "Story 1 of 2 · 3 sources"
    assert "2 of 2 stories" in message.content
    assert message.payload()["allowed_mentions"] == {"parse": []}


def test_sixty_long_stories_split_within_every_limit_and_none_dropped() -> None:
    stories = [item(n, summary="Long summary sentence. " * 60, sources=8) for n in range(60)]
    messages = render_briefing(briefing(stories))
    assert len(messages) > 6  # 60 stories cannot fit in 6 messages of ≤10 embeds
    titles = [e["title"] for m in messages for e in m.embeds]
    assert titles == [safe_text(s.headline) for s in stories]
    for message in messages:
        assert message_problems(message.payload()) == {}
        assert len(message.embeds) <= MAX_EMBEDS
        assert sum(embed_length(e) for e in message.embeds) <= MAX_EMBED_TOTAL
        # our count must agree with the fake's (which mirrors Discord's)
        assert [embed_length(e) for e in message.embeds] == [embed_chars(e) for e in message.embeds]


def test_oversized_parts_are_cut_to_the_limits() -> None:
    huge = item(1, summary="word " * 2000, sources=200, headline="H" * 400)
    [message] = render_briefing(briefing([huge]))
    embed = message.embeds[0]
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert len(embed["description"]) == 4096
    value = embed["fields"][0]["value"]
    assert len(value) <= 1024 and value.endswith("more")
    assert message_problems(message.payload()) == {}


def test_feed_text_cannot_ping_or_restyle() -> None:
    hostile = item(
        1,
        headline="@everyone **BREAKING** <@&123> [click](https://evil.example) ||spoiler||",
        summary="@here see <@456789> and <#42> `code` ~~strike~~ __under__",
    )
    bad_source = SourceLink("@everyone](https://evil.example) [x", "https://ok.example/a)b")
    hostile = replace(hostile, sources=(bad_source,))
    [message] = render_briefing(briefing([hostile], topic="@everyone"))
    embed = message.embeds[0]
    rendered = " ".join([message.content, embed["title"], embed["description"]])
    rendered += embed["fields"][0]["value"]
    for live in ("@everyone", "@here", "<@&123>", "<@456789>", "<#42>"):
        assert live not in rendered
    assert "\\*\\*BREAKING\\*\\*" in embed["title"]
    assert "\\|\\|spoiler\\|\\|" in embed["title"]
    assert "\\[click](https://evil.example)" in embed["title"]
    assert "\\`code\\`" in embed["description"] and "\\_\\_under\\_\\_" in embed["description"]
    # the source name cannot close the link early; the URL's parenthesis is encoded
    assert embed["fields"][0]["value"].count("](") == 1
    assert "https://ok.example/a%29b" in embed["fields"][0]["value"]


def test_bad_urls_are_left_out_rather_than_failing_the_message() -> None:
    odd = replace(item(1), url="javascript:alert(1)")
    [message] = render_briefing(briefing([odd]))
    assert "url" not in message.embeds[0]
    assert message_problems(message.payload()) == {}


def test_empty_briefing_is_one_message_saying_so() -> None:
    [message] = render_briefing(briefing([]))
    assert message.embeds == ()
    assert "No new stories" in message.content
    assert message_problems(message.payload()) == {}


def test_long_text_replies_are_split_at_lines_within_2000_chars() -> None:
    text = "\n".join(f"• [{n}] https://feed{n}.example/rss — 12 items, ok" for n in range(200))
    chunks = render_text(text + "\n@everyone")
    assert all(0 < len(c) <= 2000 for c in chunks)
    assert "\n".join(chunks).count("• [") == 200
    assert "@everyone" not in chunks[-1]


def test_nonce_is_stable_short_and_differs_per_part() -> None:
    first = message_nonce("discord:123:2026-11-25T08:00", 0)
    assert first == message_nonce("discord:123:2026-11-25T08:00", 0)
    assert first != message_nonce("discord:123:2026-11-25T08:00", 1)
    assert len(first) <= 25


def test_neutralise_keeps_ordinary_at_signs() -> None:
    assert neutralise_mentions("mail me@example.com") == "mail me@example.com"
