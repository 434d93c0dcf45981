"""The story drill-down's archive: the store's stories and a longer summary of each.

The briefing's 1–3 sentence summary is computed at ingest; a drill-down asks for more
(up to 6 sentences drawn across the outlets), so it is summarised on demand from the
members' text, in the CPU executor, and only for the one story asked about.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import replace

from bot.core.models import ChannelRef, Story
from bot.store.db import Database
from bot.text.story_summary import summarize_story

MAX_SENTENCES = 6
MAX_CHARS = 1500
_BODY_CHARS = 6000  # enough of each member for its lead and most quoted facts


class StoryArchiveService:
    """Implements ``bot.core.ports.StoryArchive`` on the database."""

    def __init__(self, db: Database, executor: Executor | None = None) -> None:
        self._db = db
        self._executor = executor

    async def remember(self, ref: ChannelRef, story_ids: Sequence[int]) -> None:
        await self._db.channels.remember_briefing(ref, story_ids)

    async def last_shown(self, ref: ChannelRef) -> Sequence[int]:
        return await self._db.channels.last_briefing(ref)

    async def story(self, story_id: int) -> Story | None:
        story = await self._db.articles.story(story_id)
        if story is None:
            return None
        members = [(a.source, a.title, (a.text or a.summary)[:_BODY_CHARS]) for a in story.articles]
        loop = asyncio.get_running_loop()
        _, summary = await loop.run_in_executor(
            self._executor, summarize_story, members, MAX_SENTENCES, MAX_CHARS
        )
        return replace(story, summary=summary or story.summary)


__all__ = ["MAX_SENTENCES", "StoryArchiveService"]
