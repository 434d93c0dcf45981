"""Row counts for the operations page and ``/metrics``: one round trip, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import articles, deliveries, feeds, stories


@dataclass(frozen=True)
class StoreCounts:
    articles: int
    stories: int
    feeds: int
    outbox_pending: int


async def counts(engine: AsyncEngine) -> StoreCounts:
    pending = deliveries.c.status.in_(["pending", "retry"])
    query = select(
        select(func.count()).select_from(articles).scalar_subquery(),
        select(func.count()).select_from(stories).scalar_subquery(),
        select(func.count()).select_from(feeds).scalar_subquery(),
        select(func.count()).select_from(deliveries).where(pending).scalar_subquery(),
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return StoreCounts(*(int(v or 0) for v in row))


async def ping(engine: AsyncEngine) -> None:
    """Raises when the database cannot answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(select(1))
