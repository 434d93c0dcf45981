"""Channels: per-channel settings and feed subscriptions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy import true as sa_true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import ChannelRef, ChannelSettings, Mention
from bot.store.schema import channels, subscriptions


def _settings(row: object) -> ChannelSettings:
    mutes = json.loads(row.mutes or "{}")  # type: ignore[attr-defined]
    return ChannelSettings(
        ref=ChannelRef(row.platform, row.channel, row.workspace),  # type: ignore[attr-defined]
        timezone=row.timezone,  # type: ignore[attr-defined]
        topics=tuple(json.loads(row.topics)),  # type: ignore[attr-defined]
        schedule=row.schedule,  # type: ignore[attr-defined]
        max_stories=row.max_stories,  # type: ignore[attr-defined]
        paused_reason=row.paused_reason,  # type: ignore[attr-defined]
        muted_words=tuple(mutes.get("words", ())),
        muted_sources=tuple(mutes.get("sources", ())),
        mention=_mention(row.mention),  # type: ignore[attr-defined]
        threads=bool(row.threads),  # type: ignore[attr-defined]
        origin=_origin(row),
    )


def _origin(row: object) -> ChannelRef | None:
    """The channel a personal digest follows: same platform and workspace as its row."""
    origin = row.origin  # type: ignore[attr-defined]
    if not origin:
        return None
    return ChannelRef(row.platform, origin, row.workspace)  # type: ignore[attr-defined]


def _mention(raw: str | None) -> Mention | None:
    if not raw:
        return None
    data = json.loads(raw)
    return Mention(data["kind"], str(data.get("id", "")), str(data.get("label", "")))


def _mention_json(mention: Mention | None) -> str | None:
    if mention is None:
        return None
    return json.dumps({"kind": mention.kind, "id": mention.id, "label": mention.label})


def _mutes_json(settings: ChannelSettings) -> str | None:
    if not settings.muted_words and not settings.muted_sources:
        return None
    return json.dumps(
        {"words": list(settings.muted_words), "sources": list(settings.muted_sources)}
    )


class ChannelRepo:
    """Get-or-create channel rows; settings are replaced whole by ``save``."""

    def __init__(self, engine: AsyncEngine, default_timezone: str = "UTC") -> None:
        self._engine = engine
        self.default_timezone = default_timezone

    async def row_id(self, ref: ChannelRef) -> int:
        where = (
            channels.c.platform == ref.platform,
            channels.c.workspace == ref.workspace,
            channels.c.channel == ref.channel,
        )
        async with self._engine.connect() as conn:
            found = (await conn.execute(select(channels.c.id).where(*where))).scalar()
        if found is not None:
            return int(found)
        try:
            async with self._engine.begin() as conn:
                new_id = (
                    await conn.execute(
                        insert(channels)
                        .values(
                            platform=ref.platform,
                            workspace=ref.workspace,
                            channel=ref.channel,
                            timezone=self.default_timezone,
                            topics="[]",
                            created_at=datetime.now(UTC),
                        )
                        .returning(channels.c.id)
                    )
                ).scalar_one()
                return int(new_id)
        except IntegrityError:  # created concurrently
            async with self._engine.connect() as conn:
                return int((await conn.execute(select(channels.c.id).where(*where))).scalar_one())

    async def channel(self, ref: ChannelRef) -> ChannelSettings:
        channel_id = await self.row_id(ref)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(channels).where(channels.c.id == channel_id))).one()
        return _settings(row)

    async def save_channel(self, settings: ChannelSettings) -> None:
        channel_id = await self.row_id(settings.ref)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(channels)
                .where(channels.c.id == channel_id)
                .values(
                    timezone=settings.timezone,
                    topics=json.dumps(list(settings.topics)),
                    schedule=settings.schedule,
                    max_stories=settings.max_stories,
                    mutes=_mutes_json(settings),
                    mention=_mention_json(settings.mention),
                    threads=settings.threads,
                    origin=settings.origin.channel if settings.origin else None,
                    # An admin saving the channel's settings resumes a paused schedule.
                    paused_reason=None,
                )
            )

    async def remember_briefing(self, ref: ChannelRef, story_ids: Sequence[int]) -> None:
        """Keep the story ids of the briefing just shown (`/briefing story <n>` reads them)."""
        channel_id = await self.row_id(ref)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(channels)
                .where(channels.c.id == channel_id)
                .values(last_briefing=json.dumps([int(i) for i in story_ids]))
            )

    async def last_briefing(self, ref: ChannelRef) -> list[int]:
        channel_id = await self.row_id(ref)
        async with self._engine.connect() as conn:
            raw = (
                await conn.execute(
                    select(channels.c.last_briefing).where(channels.c.id == channel_id)
                )
            ).scalar()
        return [int(i) for i in json.loads(raw or "[]")]

    async def pause(self, channel_id: int, reason: str) -> None:
        """Stop the channel's digests: a delivery there can never succeed."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(channels).where(channels.c.id == channel_id).values(paused_reason=reason)
            )

    async def scheduled(self, *, include_paused: bool = False) -> list[ChannelSettings]:
        """Every channel with a digest schedule, for the scheduler leader to reconcile."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(channels)
                .where(
                    channels.c.schedule.is_not(None),
                    channels.c.paused_reason.is_(None) if not include_paused else sa_true(),
                )
                .order_by(channels.c.id)
            )
            return [_settings(r) for r in rows]

    async def subscribe(self, ref: ChannelRef, feed_id: int) -> bool:
        """Link a channel to a feed; False when it already was."""
        channel_id = await self.row_id(ref)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(subscriptions).values(
                        channel_id=channel_id, feed_id=feed_id, created_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            return False
        return True

    async def unsubscribe(self, ref: ChannelRef, feed_id: int) -> bool:
        channel_id = await self.row_id(ref)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.channel_id == channel_id, subscriptions.c.feed_id == feed_id
                )
            )
        return bool(result.rowcount)

    async def followers(self, feed_id: int) -> list[ChannelRef]:
        """The channels subscribed to a feed (who hears about its health)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(channels.c.platform, channels.c.workspace, channels.c.channel)
                .select_from(
                    channels.join(subscriptions, subscriptions.c.channel_id == channels.c.id)
                )
                .where(subscriptions.c.feed_id == feed_id)
                .order_by(channels.c.id)
            )
            return [ChannelRef(r.platform, r.channel, r.workspace) for r in rows]

    async def feed_ids(self, ref: ChannelRef) -> list[int]:
        channel_id = await self.row_id(ref)
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(subscriptions.c.feed_id)
                .where(subscriptions.c.channel_id == channel_id)
                .order_by(subscriptions.c.created_at, subscriptions.c.feed_id)
            )
            return [int(r) for r in rows.scalars()]

    async def refs_by_id(self) -> dict[int, ChannelRef]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(channels.c.id, channels.c.platform, channels.c.workspace, channels.c.channel)
            )
            return {r.id: ChannelRef(r.platform, r.channel, r.workspace) for r in rows}
