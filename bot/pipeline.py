"""Ingest: drafts in, stored articles with summaries, grouped into stories, out.

Summaries and story assignment happen here, at ingest, so ``/briefing`` is a query and
a render, never a fetch or a summarisation. Blocking CPU work (summarising, grouping)
runs in an executor; one lock keeps the grouper's state consistent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.core.models import Article, ArticleDraft
from bot.core.ports import SaveOutcome, Summarizer
from bot.errors import SummarizeError
from bot.store.db import Database
from bot.text.grouping import StoryGrouper
from bot.text.sentences import split_sentences
from bot.text.story_summary import summarize_story

log = logging.getLogger(__name__)
T = TypeVar("T")


def content_hash(draft: ArticleDraft) -> str:
    return hashlib.sha256(f"{draft.title}\n{draft.text}".encode()).hexdigest()


@dataclass
class IngestStats:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    new_article_ids: list[int] = field(default_factory=list)

    def add(self, other: IngestStats) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.new_article_ids.extend(other.new_article_ids)

    def __str__(self) -> str:
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"


class AsyncSummarizer(Protocol):
    """An abstractive summariser (``bot.text.llm.LLMSummarizer``) that never raises."""

    async def summarize_async(self, title: str, text: str) -> str: ...


def _lead(text: str, sentences: int = 3) -> str:
    """Fallback summary when the summariser fails: the first sentences."""
    return " ".join(split_sentences(text)[:sentences]) or text[:300]


class Pipeline:
    def __init__(
        self,
        db: Database,
        summarizer: Summarizer,
        grouper: StoryGrouper,
        *,
        story_window_hours: float = 48.0,
        summary_sentences: int = 3,
        summary_chars: int = 600,
        executor: Executor | None = None,
        llm: AsyncSummarizer | None = None,
    ) -> None:
        self._db = db
        self._llm = llm
        self._summarizer = summarizer
        self._grouper = grouper
        self._window = timedelta(hours=story_window_hours)
        self._summary_sentences = summary_sentences
        self._summary_chars = summary_chars
        self._executor = executor
        self._lock = asyncio.Lock()
        self._loaded = False
        # Grouper keys → story ids. Stories resumed from the database keep their id as key.
        self._story_ids: dict[int, int] = {}

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _load_grouper(self) -> None:
        """Resume grouping after a restart: recent stories become candidates again."""
        if self._loaded:
            return
        rows = await self._db.articles.grouping_rows(datetime.now(UTC) - self._window)
        for row in rows:
            self._grouper.load(row.story_id, row.title, row.text, row.last_updated)
            self._story_ids[row.story_id] = row.story_id
        self._loaded = True
        log.debug("grouper resumed with %d stories", len({r.story_id for r in rows}))

    def _summarize(self, title: str, text: str) -> str:
        try:
            summary = self._summarizer.summarize(title, text)
        except SummarizeError as exc:
            log.warning("summarize: %s; using the lead", exc)
            summary = ""
        except Exception:
            log.exception("summarize: unexpected failure; using the lead")
            summary = ""
        return summary or _lead(text, self._summary_sentences)[: self._summary_chars]

    async def _summary(self, draft: ArticleDraft) -> str:
        if self._llm is not None:  # it falls back to the extractive summariser itself
            return await self._llm.summarize_async(draft.title, draft.text)
        return await self._run(self._summarize, draft.title, draft.text)

    async def ingest(
        self,
        origin: str,
        drafts: Sequence[ArticleDraft],
        hashes: Mapping[str, str] | None = None,
    ) -> IngestStats:
        """Store ``drafts`` from one origin (``"seeds"``, ``"feed:12"``); idempotent.

        ``hashes`` (by key) overrides the content hash: a feed item enriched with the
        page's full text is hashed as the feed sent it, so the next poll of the same
        teaser is "unchanged" and not an edit.
        """
        stats = IngestStats()
        async with self._lock:
            await self._load_grouper()
            for draft in drafts:
                digest = (hashes or {}).get(draft.key) or content_hash(draft)
                known = await self._db.articles.content_hash_for(origin, draft.key)
                # Same content (a date-only edit, a repeat): keep the stored summary.
                summary: str | None = None
                if known != digest:
                    summary = await self._summary(draft)
                saved = await self._db.articles.save(draft, origin, summary, digest)
                if saved.outcome is SaveOutcome.NEW:
                    stats.new += 1
                    stats.new_article_ids.append(saved.id)
                    await self._assign_story(saved.id, draft, summary or "")
                elif saved.outcome is SaveOutcome.UPDATED:
                    stats.updated += 1
                    if saved.story_id is not None:
                        await self._refresh_story(saved.story_id, saved.id)
                else:
                    stats.unchanged += 1
        return stats

    async def _assign_story(self, article_id: int, draft: ArticleDraft, summary: str) -> None:
        """Join the best recent story or start one; the grouper's keys map to story ids."""
        story_key: int = await self._run(
            self._grouper.add,
            article_id,
            draft.title,
            f"{draft.standfirst or ''} {summary or draft.text[:600]}".strip(),
            draft.published_at,
            draft.source,
        )
        story_id = self._story_ids.get(story_key)
        if story_id is not None:
            await self._refresh_story(story_id, article_id)
        else:
            self._story_ids[story_key] = await self._db.articles.new_story(
                article_id, draft.title, summary
            )

    async def _refresh_story(self, story_id: int, article_id: int) -> None:
        members: list[Article] = await self._db.articles.join_story(article_id, story_id)
        if len(members) < 2:
            if members:
                await self._db.articles.set_story_text(
                    story_id, members[0].title, members[0].summary
                )
            return
        try:
            headline, summary = await self._run(
                summarize_story,
                [(a.source, a.title, a.summary) for a in members],
                self._summary_sentences,
                self._summary_chars,
            )
        except Exception:  # a story keeps its old text rather than losing the article
            log.exception("story summary failed for story_id=%s", story_id)
            return
        await self._db.articles.set_story_text(story_id, headline, summary)
