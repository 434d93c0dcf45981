"""Articles, their keys (with tombstones) and the stories they belong to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import and_, delete, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import Article, ArticleDraft, Story
from bot.core.ports import SaveOutcome
from bot.store import batch
from bot.store.batch import ARTICLE_COLUMNS, article_from_row
from bot.store.schema import articles, item_keys, stories


@dataclass(frozen=True, slots=True)
class SavedArticle:
    id: int
    outcome: SaveOutcome
    story_id: int | None


@dataclass(frozen=True, slots=True)
class Orphan:
    """An article that has no story (a run died between writing it and grouping it)."""

    id: int
    draft: ArticleDraft
    summary: str


@dataclass(frozen=True, slots=True)
class GroupingRow:
    """What the story grouper needs to resume after a restart."""

    story_id: int
    title: str
    text: str
    published_at: datetime
    source: str


class ArticleRepo:
    """Idempotent article storage keyed by (origin, item key).

    ``origin`` names where a key is unique: ``"feed:<id>"`` or ``"seeds"``. A key whose
    article was pruned stays as a tombstone, so the item never comes back as new. The
    same article reached through two feeds (same canonical URL or content hash) is
    stored once, with one key row per feed.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(
        self, draft: ArticleDraft, origin: str, summary: str | None, content_hash: str
    ) -> SavedArticle:
        """Insert or update one draft by (origin, key); ``summary=None`` keeps the stored
        one. The same write path as the batched ingest (``bot.store.batch``)."""
        known = (await batch.known_items(self._engine, origin, [draft.key])).get(draft.key)
        written = await batch.write_articles(
            self._engine, [batch.Write(draft, content_hash, summary, known, origin)]
        )
        if written:
            return SavedArticle(written[0].article_id, written[0].outcome, written[0].story_id)
        assert known is not None  # nothing written: a repeat or a tombstone
        return SavedArticle(known.article_id or 0, SaveOutcome.UNCHANGED, known.story_id)

    async def forget(self, origin: str, keys: Sequence[str]) -> int:
        """Delete the articles behind ``keys`` but keep the keys as tombstones."""
        async with self._engine.begin() as conn:
            ids = (
                await conn.execute(
                    select(item_keys.c.article_id).where(
                        item_keys.c.origin == origin, item_keys.c.item_key.in_(list(keys))
                    )
                )
            ).scalars()
            id_list = [i for i in ids if i is not None]
            if not id_list:
                return 0
            await conn.execute(
                update(item_keys).where(item_keys.c.article_id.in_(id_list)).values(article_id=None)
            )
            await conn.execute(delete(articles).where(articles.c.id.in_(id_list)))
            return len(id_list)

    async def mark_seen(self, origin: str, keys: Sequence[str]) -> int:
        """Record keys as seen without articles (a new feed's back catalogue: no flood)."""
        if not keys:
            return 0
        known = await self.keys(origin)
        now = datetime.now(UTC)
        fresh = [
            {"origin": origin, "item_key": k, "article_id": None, "first_seen": now}
            for k in dict.fromkeys(keys)
            if k not in known
        ]
        if fresh:
            async with self._engine.begin() as conn:
                await conn.execute(insert(item_keys), fresh)
        return len(fresh)

    async def prune(self, before: datetime) -> int:
        """Delete articles published before ``before`` (their keys stay as tombstones) and
        stories left empty; returns the number of articles removed."""
        async with self._engine.begin() as conn:
            old = select(articles.c.id).where(articles.c.published_at < before)
            await conn.execute(
                update(item_keys).where(item_keys.c.article_id.in_(old)).values(article_id=None)
            )
            removed = await conn.execute(delete(articles).where(articles.c.published_at < before))
            await conn.execute(
                delete(stories).where(
                    ~stories.c.id.in_(
                        select(articles.c.story_id).where(articles.c.story_id.is_not(None))
                    )
                )
            )
            return int(removed.rowcount or 0)

    async def keys(self, origin: str) -> dict[str, int | None]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(item_keys.c.item_key, item_keys.c.article_id).where(
                    item_keys.c.origin == origin
                )
            )
            return {r.item_key: r.article_id for r in rows}

    # --- stories -----------------------------------------------------------------------

    async def new_story(self, article_id: int, title: str, summary: str) -> int:
        """Start a story with one article (the batched ingest does this for many)."""
        created, _ = await batch.write_stories(
            self._engine, [batch.StoryJoin(article_id, None, 0, title, summary)]
        )
        return created[0]

    async def oldest_without_story(self, since: datetime) -> datetime | None:
        """When the longest-waiting article without a story was fetched."""
        async with self._engine.connect() as conn:
            oldest: datetime | None = (
                await conn.execute(
                    select(func.min(articles.c.fetched_at)).where(
                        articles.c.story_id.is_(None), articles.c.published_at >= since
                    )
                )
            ).scalar_one_or_none()
        return oldest

    async def story(self, story_id: int) -> Story | None:
        """One story with every member article (body text included), oldest first;
        None when it no longer exists or has no articles left."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(stories).where(stories.c.id == story_id))).first()
            if row is None:
                return None
            members = [
                replace(article_from_row(r), text=r.text)
                for r in await conn.execute(
                    select(*ARTICLE_COLUMNS, articles.c.text)
                    .where(articles.c.story_id == story_id)
                    .order_by(articles.c.published_at, articles.c.id)
                )
            ]
        if not members:
            return None
        return Story(
            id=row.id,
            title=row.title,
            summary=row.summary,
            first_seen=row.first_seen,
            last_updated=row.last_updated,
            articles=tuple(members),
        )

    async def without_story(self, since: datetime) -> list[Orphan]:
        """In publication order, ties by link: the order does not depend on which
        process stored an article first, so neither do the stories grouped from it."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(articles)
                .where(articles.c.story_id.is_(None), articles.c.published_at >= since)
                .order_by(
                    articles.c.published_at,
                    articles.c.canonical_url,
                    articles.c.title,
                    articles.c.id,
                )
            )
            return [
                Orphan(
                    r.id,
                    ArticleDraft(
                        source=r.source,
                        key=str(r.id),
                        title=r.title,
                        text=r.text,
                        published_at=r.published_at,
                        url=r.canonical_url,
                        standfirst=r.standfirst,
                    ),
                    r.summary,
                )
                for r in rows
            ]

    async def grouping_rows(self, since: datetime) -> list[GroupingRow]:
        """Every member of the stories updated since ``since``: the grouper is seeded
        with each, as it saw them live (average link over members, outlets known)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(
                    stories.c.id,
                    articles.c.title,
                    articles.c.summary,
                    articles.c.published_at,
                    articles.c.source,
                )
                .select_from(stories.join(articles, articles.c.story_id == stories.c.id))
                .where(stories.c.last_updated >= since)
                .order_by(stories.c.id, articles.c.published_at, articles.c.id)
            )
            return [GroupingRow(r.id, r.title, r.summary, r.published_at, r.source) for r in rows]

    async def stories_between(
        self,
        start: datetime,
        end: datetime,
        limit: int = 300,
        words: Sequence[str] = (),
        feed_ids: Sequence[int] | None = None,
    ) -> list[Story]:
        """Stories with an article published in [start, end), most recently updated first.

        With ``words``, only stories with an article whose title or summary contains one
        of them (case-insensitive) are returned.
        """
        async with self._engine.connect() as conn:
            in_window = and_(articles.c.published_at >= start, articles.c.published_at < end)
            if feed_ids is not None:
                # A channel's own feeds (an article may reach us through several) + seeds.
                origins = ["seeds", *(f"feed:{i}" for i in feed_ids)]
                in_window = and_(
                    in_window,
                    articles.c.id.in_(
                        select(item_keys.c.article_id).where(item_keys.c.origin.in_(origins))
                    ),
                )
            if words or feed_ids is not None:
                matches = [
                    or_(articles.c.title.ilike(f"%{w}%"), articles.c.summary.ilike(f"%{w}%"))
                    for w in words
                ]
                story_ids_q = (
                    select(articles.c.story_id, func.max(articles.c.published_at).label("last"))
                    .where(
                        in_window,
                        articles.c.story_id.is_not(None),
                        or_(*matches) if matches else true(),
                    )
                    .group_by(articles.c.story_id)
                    .order_by(func.max(articles.c.published_at).desc())
                    .limit(limit)
                )
            else:
                story_ids_q = (
                    select(stories.c.id.label("story_id"), stories.c.last_updated.label("last"))
                    .where(stories.c.last_updated >= start, stories.c.first_seen < end)
                    .order_by(stories.c.last_updated.desc())
                    .limit(limit)
                )
            story_ids = [r.story_id for r in await conn.execute(story_ids_q)]
            if not story_ids:
                return []
            story_rows = {
                r.id: r
                for r in await conn.execute(select(stories).where(stories.c.id.in_(story_ids)))
            }
            members: dict[int, list[Article]] = defaultdict(list)
            for r in await conn.execute(
                select(*ARTICLE_COLUMNS)
                .where(articles.c.story_id.in_(story_ids), in_window)
                .order_by(articles.c.published_at, articles.c.id)
            ):
                members[r.story_id].append(article_from_row(r))
        result = []
        for sid in story_ids:
            row = story_rows.get(sid)
            if row is None or not members[sid]:
                continue
            result.append(
                Story(
                    id=row.id,
                    title=row.title,
                    summary=row.summary,
                    first_seen=row.first_seen,
                    last_updated=row.last_updated,
                    articles=tuple(members[sid]),
                )
            )
        return result

    async def count_between(self, start: datetime, end: datetime) -> int:
        async with self._engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count()).where(
                            articles.c.published_at >= start, articles.c.published_at < end
                        )
                    )
                ).scalar_one()
            )
