"""Muted words and outlets: the matching rules, the bounds, and the terminal chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.chat.console import ConsoleHarness
from bot.config import test_settings
from bot.core import mutes
from bot.core.models import Article, ArticleDraft, ChannelRef, Story
from bot.errors import CommandError
from bot.service.core import Core, open_core
from bot.service.ops import status_snapshot

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _story(story_id: int, *articles: tuple[str, str]) -> Story:
    members = tuple(
        Article(story_id * 10 + i, source, title, "", NOW)
        for i, (source, title) in enumerate(articles)
    )
    return Story(story_id, members[0].title, "", NOW, NOW, members)


def test_words_match_whole_words_case_insensitively() -> None:
    stories = [
        _story(1, ("wire", "War in the north")),
        _story(2, ("wire", "Film award season opens")),
        _story(3, ("wire", "Warsaw talks")),
    ]
    kept = mutes.apply(stories, mutes.Mutes(words=tuple(mutes.mute_words("WAR"))))
    assert [s.id for s in kept] == [2, 3]


def test_an_outlet_loses_its_articles_and_an_emptied_story_drops() -> None:
    stories = [
        _story(1, ("Tabloid", "Shock headline")),
        _story(2, ("tabloid", "Budget passes"), ("Wire", "Parliament passes budget")),
    ]
    kept = mutes.apply(stories, mutes.Mutes(sources=(mutes.source_name("  TABLOID "),)))
    assert [s.id for s in kept] == [2]
    assert [a.source for a in kept[0].articles] == ["Wire"]


def test_user_text_is_never_a_pattern() -> None:
    hostile = "(a+)+$ .* [x"
    words = mutes.mute_words(hostile)
    assert words == ["a", "x"]  # only word tokens survive; no regex is built from them
    story = _story(1, ("wire", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"))
    assert mutes.apply([story], mutes.Mutes(words=tuple(words))) == [story]


def test_counts_and_lengths_are_bounded() -> None:
    with pytest.raises(CommandError, match="at most 40 characters"):
        mutes.mute_words("x" * 41)
    with pytest.raises(CommandError, match="too long"):
        mutes.mute_words("word " * 1000)
    with pytest.raises(CommandError, match="at most 100 characters"):
        mutes.source_name("y" * 101)
    full = mutes.add(mutes.Mutes(), words=[f"w{i}" for i in range(mutes.MAX_WORDS)])
    with pytest.raises(CommandError, match="at most 50 words"):
        mutes.add(full, words=["one"])
    many = [f"s{i}" for i in range(mutes.MAX_SOURCES + 1)]
    with pytest.raises(CommandError, match="at most 50 outlets"):
        mutes.add(mutes.Mutes(), sources=many)


def _draft(n: int, source: str, title: str) -> ArticleDraft:
    return ArticleDraft(
        source=source,
        key=f"{source}-{n}",
        title=title,
        text=f"{title}. " * 5,
        published_at=datetime.now(UTC) - timedelta(hours=1),
        url=f"https://{source}.example/{n}",
    )


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    opened = await open_core(test_settings(tmp_path))
    await opened.pipeline.ingest("wire", [_draft(1, "wire", "Volcano erupts near the coast")])
    await opened.pipeline.ingest("tabloid", [_draft(2, "tabloid", "Celebrity wedding stuns fans")])
    try:
        yield opened
    finally:
        await opened.close()


async def test_mute_in_the_terminal_applies_to_briefing_digest_and_preview(core: Core) -> None:
    chat = ConsoleHarness(core.router)
    assert "Celebrity wedding" in await chat.command("/briefing")
    assert "Muted outlets: tabloid" in await chat.command("/briefing mute source Tabloid")
    assert "Muted words: volcano" in await chat.command("/briefing mute volcano")
    assert (await chat.command("/briefing")).startswith("Nothing new")
    settings = await chat.command("/briefing settings")
    assert "muted words: volcano" in settings and "muted outlets: tabloid" in settings

    ref = ChannelRef("console", "console")
    assert not (await core.briefing_for(ref)).items  # the scheduled digest
    channel_id = await core.db.channels.row_id(ref)
    snapshot = await status_snapshot(core)(channel_id, "")  # the status page's preview
    assert not snapshot.preview.items
    snapshot = await status_snapshot(core)(channel_id, "wedding")
    assert not snapshot.preview.items

    await chat.command("/briefing unmute volcano")
    out = await chat.command("/briefing")
    assert "Volcano erupts" in out and "Celebrity wedding" not in out
    assert "Usage: /briefing unmute source <outlet>" in await chat.command(
        "/briefing unmute source"
    )
