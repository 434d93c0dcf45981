"""The outbox: claim a (channel, slot), send, then mark — so a digest posts once, or retries.

A crash between send and mark leaves the row ``pending``; on restart ``resume()`` sends it
again with the same delivery key and the briefing frozen at the first attempt, and the
publishers skip the parts the channel already has (Slack message metadata; Discord a
footer marker found in the channel's history, and ``enforce_nonce`` within its window).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.core import logcontext, snapshot
from bot.core.models import Briefing, ChannelRef
from bot.core.ports import Publisher
from bot.errors import DeliveryError
from bot.store.db import Database
from bot.store.deliveries import Delivery

log = logging.getLogger(__name__)

BriefingFor = Callable[[ChannelRef, set[int]], Awaitable[Briefing]]

#: A digest posted this long after its planned time says it is late (a catch-up).
LATE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: str  # sent | empty | duplicate | failed | dead | paused | no-publisher
    message_ids: tuple[str, ...] = ()
    error: str | None = None


class Outbox:
    def __init__(
        self,
        db: Database,
        publishers: Mapping[str, Publisher],
        briefing_for: BriefingFor,
        *,
        max_attempts: int = 5,
        base_delay_s: float = 2.0,
        max_delay_s: float = 300.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._publishers = publishers
        self._briefing_for = briefing_for
        self._max_attempts = max_attempts
        self._base_delay = base_delay_s
        self._max_delay = max_delay_s
        self._sleep = sleep
        self._clock = clock

    @staticmethod
    def key(ref: ChannelRef, slot: str) -> str:
        """Stable per (channel, slot): the idempotency key handed to publishers."""
        return f"{ref.platform}:{ref.workspace}:{ref.channel}:{slot}"

    async def deliver(
        self,
        ref: ChannelRef,
        slot: str,
        *,
        manual: bool = False,
        due: datetime | None = None,
    ) -> DeliveryResult:
        """Post the digest for ``slot`` unless this channel already has it.

        A paused channel (an earlier delivery there was dead) gets no scheduled digest;
        ``manual`` (`briefbot deliver-now`) tries anyway. ``due`` is the slot's planned
        time: a digest posted long after it (catching up after an outage) says so.
        """
        publisher = self._publishers.get(ref.platform)
        if publisher is None:
            log.warning(
                "outbox: no publisher for platform=%s channel=%s", ref.platform, ref.channel
            )
            return DeliveryResult("no-publisher")
        channel_id = await self._db.channels.row_id(ref)
        if not manual:
            paused = (await self._db.channels.channel(ref)).paused_reason
            if paused:
                log.info(
                    "outbox: channel=%s is paused (%s); slot %s skipped", ref.channel, paused, slot
                )
                return DeliveryResult("paused", error=paused)
        claimed = await self._db.deliveries.claim(channel_id, slot)
        if claimed is None:
            log.info("outbox: slot %s already claimed for channel=%s", slot, ref.channel)
            return DeliveryResult("duplicate")
        late = due if due is not None and self._clock() - due > LATE_AFTER else None
        return await self._send(ref, claimed, publisher, late)

    async def _send(
        self,
        ref: ChannelRef,
        delivery: Delivery,
        publisher: Publisher,
        late: datetime | None = None,
    ) -> DeliveryResult:
        key = self.key(ref, delivery.slot_key)
        with logcontext.bind(platform=ref.platform, channel=ref.channel, delivery_key=key):
            return await self._send_logged(ref, delivery, publisher, late)

    async def _briefing(
        self, ref: ChannelRef, delivery: Delivery, late: datetime | None
    ) -> Briefing:
        """The first attempt composes and freezes the briefing; a resume re-sends it."""
        if delivery.snapshot:
            return snapshot.loads(delivery.snapshot)
        seen = await self._db.deliveries.delivered_story_ids(delivery.channel_id)
        briefing = await self._briefing_for(ref, seen)
        if late is not None:
            briefing = replace(briefing, late_since=late)
        if briefing.items:
            await self._db.deliveries.freeze(delivery.id, snapshot.dumps(briefing))
        return briefing

    async def _send_logged(
        self, ref: ChannelRef, delivery: Delivery, publisher: Publisher, late: datetime | None
    ) -> DeliveryResult:
        delivery_id, channel_id, slot = delivery.id, delivery.channel_id, delivery.slot_key
        briefing = await self._briefing(ref, delivery, late)
        story_ids = [i.story_id for i in briefing.items if i.story_id is not None]
        if not briefing.items:
            await self._db.deliveries.mark_sent(delivery_id, [], [])
            log.info("outbox: nothing new for channel=%s slot=%s", ref.channel, slot)
            metrics.DIGESTS.labels(status="empty").inc()
            return DeliveryResult("empty")
        error = ""
        gone = False
        for attempt in range(1, self._max_attempts + 1):
            await self._db.deliveries.attempt(delivery_id)
            try:
                ids = await publisher.publish(ref, briefing, self.key(ref, slot))
            except DeliveryError as exc:
                error = str(exc)
                gone = exc.channel_gone
                if exc.permanent or attempt == self._max_attempts:
                    break
                delay = exc.retry_after
                if delay is None:
                    delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
                log.warning(
                    "outbox: channel=%s attempt %d failed (%s); retrying in %.1f s",
                    ref.channel,
                    attempt,
                    exc,
                    delay,
                )
                await self._sleep(delay)
                continue
            await self._db.deliveries.mark_sent(delivery_id, ids, story_ids)
            log.info(
                "outbox: sent %d message(s) to channel=%s slot=%s", len(ids), ref.channel, slot
            )
            metrics.DIGESTS.labels(status="sent").inc()
            return DeliveryResult("sent", tuple(ids))
        await self._db.deliveries.mark_failed(delivery_id, error, retry=False, dead=gone)
        if gone:
            await self._db.channels.pause(channel_id, error)
            log.error(
                "outbox: channel=%s can no longer be posted to (%s): delivery dead, schedule "
                "paused until an admin sets it again",
                ref.channel,
                error,
            )
            metrics.DIGESTS.labels(status="dead").inc()
            return DeliveryResult("dead", error=error)
        log.error("outbox: giving up on channel=%s slot=%s: %s", ref.channel, slot, error)
        metrics.DIGESTS.labels(status="failed").inc()
        return DeliveryResult("failed", error=error)

    async def resume(self, refs: Mapping[int, ChannelRef]) -> list[DeliveryResult]:
        """Send deliveries a crash left pending (same key, so publishers can dedupe)."""
        results = []
        for pending in await self._db.deliveries.unfinished():
            ref = refs.get(pending.channel_id)
            publisher = self._publishers.get(ref.platform) if ref else None
            if ref is None or publisher is None:
                continue
            log.info("outbox: resuming slot %s for channel=%s", pending.slot_key, ref.channel)
            results.append(await self._send(ref, pending, publisher))
        return results


def slot_for(fire_time: datetime, *, seconds: bool = False) -> str:
    """The slot a scheduled run belongs to: its planned fire time, to the minute, in UTC
    (to the second for the test-only intervals of a few seconds)."""
    stamp = "%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ"
    return fire_time.astimezone(UTC).strftime(stamp)
