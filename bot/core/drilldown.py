"""Story drill-down: "Sources (N)" on a briefing's story, or `/briefing story <n>`.

A button names the story id it was drawn for; the text command names the story's place
in the channel's last briefing. Either way the answer is every article of the story and
a longer summary, or a clear sentence when the story is gone (stories are pruned after
``[sources] retention_days``, and a story can merge into another) — never an error.
Muted outlets stay muted here too.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from bot.core.models import Article, ChannelSettings, Reply, Story, StoryDetail
from bot.core.ports import StoryArchive
from bot.core.usage import UsageError, ref, say
from bot.errors import CommandError

MAX_NUMBER = 1000

GONE = (
    "That story is no longer available: older stories are cleared out, and a story can "
    "merge into a bigger one. Ask for a fresh briefing and open it from there."
)


def parse_number(text: str) -> int:
    """``n`` of ``/briefing story <n>`` (``#2`` and ``2.`` read as 2)."""
    raw = text.strip().strip("#.")
    if not raw.isdigit() or not 0 < int(raw) <= MAX_NUMBER:
        raise UsageError(say("Usage: ", ref("story", n=""), ", e.g. ", ref("story", n="2"), "."))
    return int(raw)


async def by_number(
    archive: StoryArchive, settings: ChannelSettings, number: int
) -> StoryDetail | None:
    """The ``number``-th story of the channel's last briefing; raises ``CommandError``
    when the channel has no briefing or fewer stories, None when the story is gone."""
    shown = list(await archive.last_shown(settings.ref))
    if not shown:
        raise UsageError(
            say("There is no briefing in this channel yet. Ask for one with ", ref("briefing"), ".")
        )
    if number > len(shown):
        count = f"{len(shown)} stor" + ("y" if len(shown) == 1 else "ies")
        raise CommandError(
            f"The last briefing here had {count}: pick a number from 1 to {len(shown)}."
        )
    return await by_id(archive, settings, shown[number - 1], number)


async def by_id(
    archive: StoryArchive, settings: ChannelSettings, story_id: int, number: int | None = None
) -> StoryDetail | None:
    """Story ``story_id`` for this channel (muted outlets removed), or None when gone."""
    story = await archive.story(story_id)
    if story is None:
        return None
    muted = set(settings.muted_sources)
    members = tuple(a for a in story.articles if a.source.lower() not in muted)
    if not members:
        return None
    if number is None:
        shown = list(await archive.last_shown(settings.ref))
        number = shown.index(story_id) + 1 if story_id in shown else None
    return _detail(story, members, settings.timezone, number)


def _detail(
    story: Story, members: tuple[Article, ...], timezone: str, number: int | None
) -> StoryDetail:
    ordered = tuple(sorted(members, key=lambda a: (a.published_at, a.id)))
    lead = ordered[0]
    return StoryDetail(
        story_id=story.id,
        headline=story.title or lead.title,
        summary=story.summary or lead.summary,
        articles=ordered,
        timezone=timezone,
        number=number,
    )


def when(moment: datetime, timezone: str) -> str:
    """An article's time on the channel's clock: ``04 Dec 08:15``."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(zoneinfo.ZoneInfo(timezone)):%d %b %H:%M}"


def text(detail: StoryDetail) -> str:
    """The drill-down as plain text (the terminal, and any chat's fallback)."""
    place = f"Story {detail.number}: " if detail.number else ""
    count = len(detail.articles)
    lines = [f"{place}{detail.headline}", "", detail.summary, "", f"Sources ({count}):"]
    for article in detail.articles:
        lines.append(
            f"• {article.source} — {article.title} ({when(article.published_at, detail.timezone)}"
            f" {detail.timezone})"
        )
        if article.url:
            lines.append(f"  {article.url}")
    return "\n".join(lines)


def reply(detail: StoryDetail | None) -> Reply:
    """The router's answer: the detail (adapters render it), or the "gone" sentence."""
    if detail is None:
        return Reply(text=GONE, ephemeral=True)
    return Reply(text=text(detail), ephemeral=True, story=detail)


__all__ = ["GONE", "by_id", "by_number", "parse_number", "reply", "text", "when"]
