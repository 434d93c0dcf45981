"""What `briefbot run` tells the operations server about itself (``/readyz``, ``/metrics``)."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

from bot import metrics
from bot.config import Settings
from bot.core.mutes import of as mutes_of
from bot.core.schedule import describe
from bot.service.core import Core
from bot.service.local_cron import next_digest
from bot.store import stats
from bot.store.leader import Leadership
from bot.web.server import TOKEN_ENV, WebOptions, check_access
from bot.web.status import ChannelRow, DeliveryRow, Snapshot, StatusSnapshot

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 3.0


class ProcessProbes:
    """Answers the web server's questions from the live core, leadership and adapters."""

    def __init__(self, core: Core, leadership: Leadership) -> None:
        self._core = core
        self._leadership = leadership
        #: adapter name -> None when connected, else what is wrong ("connecting", ...).
        self.adapters: dict[str, str | None] = {}
        self._all_ready = asyncio.Event()

    def report(self, adapter: str, problem: str | None) -> None:
        """An adapter's state, as its supervisor sees it (None: it serves)."""
        self.adapters[adapter] = problem
        if all(p is None for p in self.adapters.values()):
            self._all_ready.set()
        else:
            self._all_ready.clear()

    async def adapters_ready(self, timeout_s: float, stopping: asyncio.Event) -> bool:
        """Wait until every adapter serves; False when one still does not after a while,
        or at once when the process starts shutting down."""
        if all(p is None for p in self.adapters.values()):
            return True
        ready = asyncio.create_task(self._all_ready.wait())
        stop = asyncio.create_task(stopping.wait())
        done, pending = await asyncio.wait(
            {ready, stop}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        return ready in done and stop not in done
        try:
            await asyncio.wait_for(self._all_ready.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def database_problem(self) -> str | None:
        try:
            await asyncio.wait_for(stats.ping(self._core.db.engine), PING_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {PING_TIMEOUT_S:g} s"
        except Exception as exc:
            return f"{exc.__class__.__name__}"
        return None

    def scheduler_role(self) -> str:
        return "leader" if self._leadership.is_leader else "follower"

    def adapter_problems(self) -> dict[str, str | None]:
        return dict(self.adapters)

    async def refresh_gauges(self) -> None:
        metrics.LEADER.set(1 if self._leadership.is_leader else 0)
        try:
            counts = await asyncio.wait_for(stats.counts(self._core.db.engine), PING_TIMEOUT_S)
        except Exception:
            log.warning("metrics: counting stored rows failed", exc_info=True)
            return
        metrics.ARTICLES.set(counts.articles)
        metrics.STORIES.set(counts.stories)
        metrics.FEEDS.set(counts.feeds)
        metrics.OUTBOX_PENDING.set(counts.outbox_pending)


def status_snapshot(core: Core) -> Snapshot:
    """What the status page shows, read from the store at each request."""

    async def snapshot(channel_id: int | None, topic: str) -> StatusSnapshot:
        now = datetime.now(UTC)
        refs = await core.db.channels.refs_by_id()
        rows = []
        for row_id, channel_ref in sorted(refs.items()):
            settings = await core.db.channels.channel(channel_ref)
            recent = await core.db.deliveries.recent(row_id)
            rows.append(
                ChannelRow(
                    id=row_id,
                    name=f"{channel_ref.platform}: {channel_ref.channel}",
                    schedule=describe(settings.schedule) if settings.schedule else None,
                    timezone=settings.timezone,
                    next_digest=next_digest(settings.schedule, settings.timezone, now),
                    deliveries=tuple(
                        DeliveryRow(d.slot_key, d.status, d.updated_at, d.last_error)
                        for d in recent
                    ),
                )
            )
        ref = refs.get(channel_id) if channel_id is not None else None
        if ref is None:
            preview = await core.briefings.compose(topic=topic)
            title = f"/briefing {topic}" if topic else "/briefing"
        elif topic:  # `/briefing <topic>` as that channel would see it: one composition
            channel = await core.db.channels.channel(ref)
            preview = await core.briefings.compose(
                topic=topic, timezone=channel.timezone, mutes=mutes_of(channel)
            )
            title = f"/briefing {topic} in {ref.platform}: {ref.channel}"
        else:
            preview = await core.briefing_for(ref)
            title = f"Next digest for {ref.platform}: {ref.channel}"
        return StatusSnapshot(
            generated_at=now,
            feeds=tuple(await core.db.feeds.health()),
            channels=tuple(rows),
            preview=preview,
            preview_title=title,
            preview_channel=channel_id if ref is not None else None,
            topic=topic,
        )

    return snapshot


def web_options(settings: Settings) -> WebOptions:
    """The server's address and token; refuses a non-loopback bind without a token."""
    token = os.environ.get(TOKEN_ENV) or None
    check_access(settings.web.host, token)
    return WebOptions(host=settings.web.host, port=settings.web.port, token=token)
