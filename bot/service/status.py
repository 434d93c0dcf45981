"""`/briefing status`: why was nothing posted? The channel's last digests, its next
one, and the feeds it follows that are failing, in one short answer."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.commands import StatusHook
from bot.core.models import ChannelRef
from bot.core.schedule import describe
from bot.service.local_cron import next_digest
from bot.store.db import Database

RECENT = 5


def channel_status(db: Database) -> StatusHook:
    async def status(ref: ChannelRef) -> str:
        now = datetime.now(UTC)
        settings = await db.channels.channel(ref)
        channel_id = await db.channels.row_id(ref)
        lines = ["*Digest status*"]
        if not settings.schedule:
            lines.append("No schedule: an admin can set one (see help).")
        elif settings.paused_reason:
            lines.append(
                f"Schedule {describe(settings.schedule)} ({settings.timezone}) is *paused*: "
                f"{settings.paused_reason}. Fix the bot's access, then set the schedule again."
            )
        else:
            upcoming = next_digest(settings.schedule, settings.timezone, now)
            when = upcoming.strftime("%a %d %b %H:%M %Z") if upcoming else "not planned"
            lines.append(
                f"Schedule {describe(settings.schedule)} ({settings.timezone}); next: {when}"
            )
        recent = await db.deliveries.recent(channel_id, RECENT)
        if recent:
            lines.append("Last digests:")
        for d in recent:
            when = d.updated_at.astimezone(UTC).strftime("%d %b %H:%M UTC") if d.updated_at else ""
            reason = f" — {d.last_error}" if d.last_error and d.status != "sent" else ""
            parts = len(d.message_ids)
            lines.append(f"• {d.slot_key}: {d.status}, {parts} part(s), {when}{reason}")
        if not recent and settings.schedule:
            lines.append("No digest has been posted here yet.")
        feed_ids = await db.channels.feed_ids(ref)
        failing = [f for f in await db.feeds.health(feed_ids or []) if f.last_error]
        for feed in failing:
            lines.append(
                f"⚠ feed [{feed.id}] {feed.title or feed.url}: {feed.last_error} "
                f"({feed.failure_count} failures in a row)"
            )
        return "\n".join(lines)

    return status
