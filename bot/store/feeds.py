"""Feeds: URLs, fetch state and health, and leases so several workers share polling."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, bindparam, cast, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from bot.core.models import FeedInfo
from bot.store.schema import articles, feeds, item_keys


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the poller needs to fetch a feed again politely, and what it learned."""

    id: int
    url: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    failure_count: int = 0
    last_error: str | None = None
    next_fetch_at: datetime | None = None
    last_fetch_at: datetime | None = None
    gone: bool = False
    interval_s: int = 900
    backfill: int = 0
    failing_since: datetime | None = None
    alert_state: str | None = None  # None | "failing" | "disabled"


def _state(row: object) -> FeedState:
    return FeedState(
        id=row.id,  # type: ignore[attr-defined]
        url=row.url,  # type: ignore[attr-defined]
        title=row.title,  # type: ignore[attr-defined]
        etag=row.etag,  # type: ignore[attr-defined]
        last_modified=row.last_modified,  # type: ignore[attr-defined]
        body_hash=row.body_hash,  # type: ignore[attr-defined]
        failure_count=row.failure_count,  # type: ignore[attr-defined]
        last_error=row.last_error,  # type: ignore[attr-defined]
        next_fetch_at=row.next_fetch_at,  # type: ignore[attr-defined]
        last_fetch_at=row.last_fetch_at,  # type: ignore[attr-defined]
        gone=row.gone,  # type: ignore[attr-defined]
        interval_s=row.interval_s,  # type: ignore[attr-defined]
        backfill=row.backfill,  # type: ignore[attr-defined]
        failing_since=row.failing_since,  # type: ignore[attr-defined]
        alert_state=row.alert_state,  # type: ignore[attr-defined]
    )


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Not gone, due by ``now``, and not leased by a live worker."""
    return (
        feeds.c.gone.is_(False),
        or_(feeds.c.next_fetch_at.is_(None), feeds.c.next_fetch_at <= now),
        or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now),
    )


class FeedRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, url: str, interval_s: int = 900, backfill: int = 0) -> tuple[int, bool]:
        """Insert a feed by URL; returns (id, created)."""
        existing = await self.by_url(url)
        if existing is not None:
            return existing.id, False
        try:
            async with self._engine.begin() as conn:
                new_id = (
                    await conn.execute(
                        insert(feeds)
                        .values(
                            url=url,
                            interval_s=interval_s,
                            backfill=backfill,
                            failure_count=0,
                            gone=False,
                            created_at=datetime.now(UTC),
                        )
                        .returning(feeds.c.id)
                    )
                ).scalar_one()
                return int(new_id), True
        except IntegrityError:
            found = await self.by_url(url)
            assert found is not None
            return found.id, False

    async def by_url(self, url: str) -> FeedState | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(feeds).where(feeds.c.url == url))).first()
        return None if row is None else _state(row)

    async def by_id(self, feed_id: int) -> FeedState | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(feeds).where(feeds.c.id == feed_id))).first()
        return None if row is None else _state(row)

    async def remove(self, feed_id: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(feeds).where(feeds.c.id == feed_id))

    async def all(self) -> list[FeedState]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(feeds).order_by(feeds.c.id))
            return [_state(r) for r in rows]

    async def health(self, feed_ids: list[int] | None = None) -> list[FeedInfo]:
        """Feeds with their article counts, for `feeds list` and `/briefing feeds`."""
        counts = (
            select(item_keys.c.origin, func.count(articles.c.id).label("n"))
            .select_from(item_keys.join(articles, item_keys.c.article_id == articles.c.id))
            .group_by(item_keys.c.origin)
            .subquery()
        )
        query = (
            select(feeds, func.coalesce(counts.c.n, 0).label("items"))
            .select_from(
                feeds.outerjoin(
                    counts, counts.c.origin == literal("feed:") + cast(feeds.c.id, String)
                )
            )
            .order_by(feeds.c.id)
        )
        if feed_ids is not None:
            query = query.where(feeds.c.id.in_(feed_ids))
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [
                FeedInfo(
                    id=r.id,
                    url=r.url,
                    title=r.title,
                    items=int(r.items),
                    last_fetch=r.last_fetch_at,
                    last_error=r.last_error,
                    failure_count=r.failure_count,
                    next_fetch_at=r.next_fetch_at,
                )
                for r in rows
            ]

    async def count_due(self, now: datetime) -> int:
        """How many feeds are due and not leased (a progress bar's total)."""
        async with self._engine.connect() as conn:
            return int(
                (
                    await conn.execute(select(func.count()).select_from(feeds).where(*_due(now)))
                ).scalar_one()
            )

    async def polling(self, now: datetime) -> bool:
        """Whether a cycle is under way: a feed is due, or leased by a live worker."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(feeds.c.id)
                    .where(
                        feeds.c.gone.is_(False),
                        or_(
                            feeds.c.next_fetch_at.is_(None),
                            feeds.c.next_fetch_at <= now,
                            feeds.c.lease_until >= now,
                        ),
                    )
                    .limit(1)
                )
            ).first()
        return row is not None

    async def lease_due(
        self, owner: str, now: datetime, limit: int = 100, lease_s: float = 300.0
    ) -> list[FeedState]:
        """Claim feeds due for a fetch; another worker skips them until the lease ends.

        The most overdue come first, and are returned in that order: never-polled feeds,
        then by the time they fell due. When a cycle takes longer than the feeds'
        interval, every feed then waits about one cycle, whatever its id. On PostgreSQL
        the claim uses ``FOR UPDATE SKIP LOCKED`` so concurrent workers never block on,
        or double-claim, the same feed.
        """
        token = f"{owner}/{uuid.uuid4().hex[:12]}"
        overdue = (feeds.c.next_fetch_at.is_not(None), feeds.c.next_fetch_at, feeds.c.id)
        due = select(feeds.c.id).where(*_due(now)).order_by(*overdue).limit(limit)
        if self._engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        # One UPDATE … WHERE id IN (SELECT …): atomic on SQLite, SKIP LOCKED on PostgreSQL.
        async with self._engine.begin() as conn:
            await conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(due.scalar_subquery()))
                .values(lease_owner=token, lease_until=now + timedelta(seconds=lease_s))
            )
            rows = await conn.execute(
                select(feeds).where(feeds.c.lease_owner == token).order_by(*overdue)
            )
            return [_state(r) for r in rows]

    async def claim_alert(self, feed_id: int, before: str | None, after: str | None) -> bool:
        """Move a feed's notice state from ``before`` to ``after``; True for the one
        process (of several) that made the move and so sends the notice."""
        current = feeds.c.alert_state.is_(None) if before is None else feeds.c.alert_state == before
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(feeds).where(feeds.c.id == feed_id, current).values(alert_state=after)
            )
        return bool(result.rowcount)

    async def retry(self, feed_id: int) -> None:
        """Poll a failing or stopped feed again at once, from a clean slate."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id)
                .values(
                    gone=False,
                    failure_count=0,
                    last_error=None,
                    next_fetch_at=None,
                    failing_since=None,
                    alert_state=None,
                )
            )

    async def record(self, state: FeedState) -> None:
        """Store what a fetch learned and release the lease."""
        await self.record_many([state])

    async def record_many(self, states: Sequence[FeedState]) -> None:
        """``record`` for many feeds in one transaction: a poll cycle's feeds mostly come
        back unchanged, and a transaction each was most of an unchanged cycle."""
        if not states:
            return
        columns = (
            "url",
            "title",
            "etag",
            "last_modified",
            "body_hash",
            "failure_count",
            "last_error",
            "next_fetch_at",
            "last_fetch_at",
            "gone",
            "interval_s",
            "backfill",
            "failing_since",
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                update(feeds)
                .where(feeds.c.id == bindparam("feed_id"))
                .values(
                    {name: bindparam(f"v_{name}") for name in columns}
                    | {"lease_owner": None, "lease_until": None}
                ),
                [
                    {"feed_id": s.id, **{f"v_{name}": getattr(s, name) for name in columns}}
                    for s in states
                ],
            )
