"""Compose a platform-neutral briefing: select stories in a window, rank, cut, describe."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.models import Briefing, BriefingItem, SourceLink, Story
from bot.core.mutes import Mutes
from bot.core.mutes import apply as apply_mutes
from bot.core.ports import StoryReader
from bot.core.ranking import rank_stories

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class BriefingOptions:
    max_stories: int = 10
    window: timedelta = timedelta(hours=24)
    half_life_hours: float = 12.0
    source_weights: Mapping[str, float] = field(default_factory=dict)
    candidate_limit: int = 300


def topic_words(text: str) -> list[str]:
    """Words of a topic filter, lower-cased; ``-word`` excludes (kept with its dash)."""
    words = []
    for raw in text.split():
        neg = raw.startswith("-")
        for word in _WORD.findall(raw.lower()):
            words.append(f"-{word}" if neg else word)
    return words


def _matches(story: Story, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whole-word (prefix) match on titles and summaries, so “war” does not hit “award”."""
    haystack = " ".join(f"{a.title} {a.summary}" for a in story.articles).lower()
    tokens = set(_WORD.findall(haystack))

    def hit(word: str) -> bool:
        return any(t.startswith(word) for t in tokens)

    if exclude and any(hit(w) for w in exclude):
        return False
    return not include or any(hit(w) for w in include)


def _item(story: Story, score: float, parts: dict[str, float]) -> BriefingItem:
    newest_first = sorted(story.articles, key=lambda a: (a.published_at, a.id), reverse=True)
    lead = min(story.articles, key=lambda a: (a.published_at, a.id))
    links: dict[str, SourceLink] = {}
    for article in sorted(story.articles, key=lambda a: (a.published_at, a.id)):
        links.setdefault(article.source, SourceLink(article.source, article.url))
    return BriefingItem(
        headline=story.title or lead.title,
        summary=story.summary or lead.summary,
        url=lead.url,
        published_at=newest_first[0].published_at,
        sources=tuple(links.values()),
        story_id=story.id,
        score=round(score, 4),
        score_parts={k: round(v, 4) for k, v in parts.items()},
        article_count=len(story.articles),
    )


class BriefingService:
    """Builds briefings from stored stories; a query plus ranking, never a fetch."""

    def __init__(
        self,
        stories: StoryReader,
        options: BriefingOptions,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._stories = stories
        self._options = options
        self._clock = clock

    async def compose(
        self,
        *,
        timezone: str = "UTC",
        window: timedelta | None = None,
        since: datetime | None = None,
        topic: str = "",
        channel_topics: Sequence[str] = (),
        max_stories: int | None = None,
        exclude_story_ids: Collection[int] = (),
        feed_ids: Sequence[int] | None = None,
        mutes: Mutes | None = None,
    ) -> Briefing:
        """A briefing of the top stories published in the window ending now.

        ``topic`` (what the user typed) filters; ``channel_topics`` filter too and also
        boost ranking. ``since`` overrides ``window`` (a digest covers the time since the
        previous one). ``feed_ids`` limits the briefing to a channel's own feeds (plus the
        seed folder); None means every source. ``mutes`` drop muted outlets' articles
        and stories mentioning a muted word.
        """
        now = self._clock()
        start = since if since is not None else now - (window or self._options.window)
        words = topic_words(topic) + topic_words(" ".join(channel_topics))
        include = [w for w in words if not w.startswith("-")]
        exclude = [w[1:] for w in words if w.startswith("-")]
        candidates = await self._stories.stories_between(
            start, now, self._options.candidate_limit, include, feed_ids
        )
        if mutes:
            candidates = apply_mutes(candidates, mutes)
        selected = [
            s for s in candidates if s.id not in exclude_story_ids and _matches(s, include, exclude)
        ]
        ranked = rank_stories(
            selected,
            now,
            topics=include,
            half_life_hours=self._options.half_life_hours,
            source_weights=self._options.source_weights,
        )
        limit = max_stories or self._options.max_stories
        items = tuple(_item(story, score, parts) for story, score, parts in ranked[:limit])
        zone = zoneinfo.ZoneInfo(timezone)
        article_count = sum(len(s.articles) for s in selected)
        return Briefing(
            generated_at=now.astimezone(zone),
            window_start=start.astimezone(zone),
            window_end=now.astimezone(zone),
            timezone=timezone,
            items=items,
            topic=topic.strip() or None,
            article_count=article_count,
            story_count=len(selected),
        )
