"""A database with what the status page must show: a healthy feed with articles, a
failing feed, and a channel with a schedule (shared by the page and browser tests)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.core.models import ChannelRef, ChannelSettings
from bot.core.schedule import parse_schedule
from bot.service.core import Core

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
FAILING_ERROR = "fetch: http://feeds.example.invalid/news.xml: HTTP 404 not found"
CHANNEL = ChannelRef("console", "newsroom")


async def seed_status(core: Core) -> None:
    await core.ingest_seeds()
    far = datetime.now(UTC) + timedelta(days=1)
    healthy_id, _ = await core.db.feeds.add("https://healthy.example.org/feed.xml")
    failing_id, _ = await core.db.feeds.add("http://feeds.example.invalid/news.xml")
    healthy = await core.db.feeds.by_id(healthy_id)
    failing = await core.db.feeds.by_id(failing_id)
    assert healthy is not None and failing is not None
    await core.db.feeds.record(
        dataclasses.replace(
            healthy,
            title=f"Healthy Wire {HOSTILE}",
            last_fetch_at=datetime.now(UTC),
            next_fetch_at=far,
        )
    )
    await core.db.feeds.record(
        dataclasses.replace(
            failing,
            title="Broken Gazette",
            last_error=FAILING_ERROR,
            failure_count=4,
            next_fetch_at=far,
        )
    )
    schedule = parse_schedule(["weekdays", "08:00"])
    await core.db.channels.save_channel(
        ChannelSettings(CHANNEL, timezone="Europe/Berlin", schedule=schedule.cron)
    )
