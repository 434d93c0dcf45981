"""The delivery log: every post is claimed before it is sent, so a slot posts once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import delivered_stories, deliveries


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    channel_id: int
    slot_key: str
    status: str
    attempts: int
    message_ids: tuple[str, ...]
    last_error: str | None
    updated_at: datetime | None = None
    snapshot: str | None = None


def _delivery(row: object) -> Delivery:
    return Delivery(
        id=row.id,  # type: ignore[attr-defined]
        channel_id=row.channel_id,  # type: ignore[attr-defined]
        slot_key=row.slot_key,  # type: ignore[attr-defined]
        status=row.status,  # type: ignore[attr-defined]
        attempts=row.attempts,  # type: ignore[attr-defined]
        message_ids=tuple(json.loads(row.message_ids)),  # type: ignore[attr-defined]
        last_error=row.last_error,  # type: ignore[attr-defined]
        updated_at=row.updated_at,  # type: ignore[attr-defined]
        snapshot=row.snapshot,  # type: ignore[attr-defined]
    )


class DeliveryRepo:
    """States: ``pending`` (claimed, not yet confirmed) → ``sent`` | ``failed``.

    ``claim`` is insert-if-absent on UNIQUE(channel, slot): of two processes that try the
    same slot, one gets the row and the other gets ``None``.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, channel_id: int, slot_key: str) -> Delivery | None:
        now = datetime.now(UTC)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(deliveries).values(
                        channel_id=channel_id,
                        slot_key=slot_key,
                        status="pending",
                        message_ids="[]",
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return None  # already claimed: the retry loop resumes it, never a second claim
        return await self.get(channel_id, slot_key)

    async def get(self, channel_id: int, slot_key: str) -> Delivery | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(deliveries).where(
                        deliveries.c.channel_id == channel_id, deliveries.c.slot_key == slot_key
                    )
                )
            ).first()
        return None if row is None else _delivery(row)

    async def recent(self, channel_id: int, limit: int = 5) -> list[Delivery]:
        """The channel's latest deliveries, newest first (the status page)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(deliveries)
                .where(deliveries.c.channel_id == channel_id)
                .order_by(deliveries.c.id.desc())
                .limit(limit)
            )
            return [_delivery(r) for r in rows]

    async def listing(
        self, *, failed_only: bool = False, channel_id: int | None = None, limit: int = 50
    ) -> list[Delivery]:
        """Deliveries newest first, for `briefbot deliveries`."""
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if failed_only:
            query = query.where(deliveries.c.status.in_(["failed", "dead"]))
        if channel_id is not None:
            query = query.where(deliveries.c.channel_id == channel_id)
        async with self._engine.connect() as conn:
            return [_delivery(r) for r in await conn.execute(query)]

    async def unfinished(self) -> list[Delivery]:
        """Pending and failed-but-retryable deliveries, e.g. after a crash."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(deliveries)
                .where(deliveries.c.status.in_(["pending", "retry"]))
                .order_by(deliveries.c.id)
            )
            return [_delivery(r) for r in rows]

    async def freeze(self, delivery_id: int, snapshot: str) -> None:
        """Keep the briefing as first rendered, so a resume re-sends the same parts."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(deliveries).where(deliveries.c.id == delivery_id).values(snapshot=snapshot)
            )

    async def attempt(self, delivery_id: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(attempts=deliveries.c.attempts + 1, updated_at=datetime.now(UTC))
            )

    async def mark_sent(
        self, delivery_id: int, message_ids: list[str], story_ids: list[int]
    ) -> None:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(deliveries.c.channel_id).where(deliveries.c.id == delivery_id)
                )
            ).one()
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="sent",
                    message_ids=json.dumps(message_ids),
                    last_error=None,
                    updated_at=now,
                )
            )
            done = set(
                (
                    await conn.execute(
                        select(delivered_stories.c.story_id).where(
                            delivered_stories.c.channel_id == row.channel_id,
                            delivered_stories.c.story_id.in_(story_ids),
                        )
                    )
                ).scalars()
            )
            fresh = [
                {"channel_id": row.channel_id, "story_id": sid, "delivered_at": now}
                for sid in dict.fromkeys(story_ids)
                if sid not in done
            ]
            if fresh:
                await conn.execute(insert(delivered_stories), fresh)

    async def mark_failed(
        self, delivery_id: int, error: str, retry: bool, *, dead: bool = False
    ) -> None:
        """``dead``: the channel can never take it (gone, bot removed, token revoked)."""
        status = "dead" if dead else "retry" if retry else "failed"
        async with self._engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status=status,
                    last_error=error[:500],
                    updated_at=datetime.now(UTC),
                )
            )

    async def delivered_story_ids(self, channel_id: int) -> set[int]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(delivered_stories.c.story_id).where(
                    delivered_stories.c.channel_id == channel_id
                )
            )
            return {int(s) for s in rows.scalars()}
