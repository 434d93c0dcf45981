"""The leader's grouping stage: when to group the articles the workers stored.

On PostgreSQL no process groups as it stores (``Pipeline.inline_grouping`` is off).
The scheduler leader groups a feed cycle's articles together once the cycle settles —
no feed due or leased — in publication order, so the stories do not depend on how many
processes fetched the feeds, nor on which finished first. Feeds that fall due all the
time never let a cycle settle, so an article that has waited ``max_wait`` is grouped
anyway, with whatever else is waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.ingest.pipeline import Pipeline
from bot.store.db import Database

log = logging.getLogger(__name__)


class GroupingStage:
    def __init__(
        self,
        db: Database,
        pipeline: Pipeline,
        is_leader: Callable[[], bool],
        *,
        max_wait: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._pipeline = pipeline
        self._is_leader = is_leader
        self._max_wait = max_wait
        self._clock = clock

    async def run_once(self) -> int:
        """Group what waits, if this process leads and the time has come; returns how
        many articles were grouped."""
        if not self._is_leader():
            return 0
        now = self._clock()
        oldest = await self._db.articles.oldest_without_story(now - self._pipeline.window)
        if oldest is None:
            return 0
        if now - oldest < self._max_wait and await self._db.feeds.polling(now):
            return 0  # a cycle is under way: group it whole when it settles
        grouped = await self._pipeline.group_orphans()
        if grouped:
            log.info("grouping: %d articles stored by this and other processes", grouped)
        return grouped
