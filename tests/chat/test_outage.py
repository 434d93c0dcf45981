"""Two hours without a running bot (a fake clock): on restart each channel gets exactly
one catch-up digest, for the latest missed slot, and it says it is late. A second
restart posts nothing more. Real Slack and discord.py clients, loopback fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat.discord import DiscordOptions, build_discord_client
from bot.chat.discord_render import DiscordPublisher
from bot.chat.slack_render import SlackPublisher
from bot.core.models import Briefing, ChannelRef, ChannelSettings
from bot.core.ports import Publisher
from bot.delivery.outbox import Outbox, slot_for
from bot.service.core import Core
from bot.service.scheduler import Scheduler
from tests.chat.conftest import slack_web
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord
from tests.fakes.slack_api import FakeSlack

SLACK_REF = ChannelRef("slack", "CNEWS", "T1")
DISCORD_REF = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))
HOURLY = "0 * * * *"


@pytest.fixture
async def publishers(
    fake: FakeDiscord, slack: FakeSlack, news_core: Core
) -> AsyncIterator[dict[str, Publisher]]:
    client = build_discord_client(news_core.router, DiscordOptions(token=TOKEN))
    async with client:
        await client.login(TOKEN)
        slack_client = slack_web(slack)
        yield {
            "slack": SlackPublisher(slack_client, post_interval=0),
            "discord": DiscordPublisher(client),
        }


async def restart(core: Core, publishers: dict[str, Publisher], now: datetime) -> None:
    """What `briefbot run` does as leader on start: resume, then catch up (reconcile)."""

    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref, exclude=seen)

    outbox = Outbox(core.db, publishers, briefing_for, clock=lambda: now)
    scheduler = Scheduler(outbox, clock=lambda: now)
    await outbox.resume(await core.db.channels.refs_by_id())
    await scheduler.reconcile(await core.db.channels.scheduled())
    scheduler.shutdown()


async def test_two_hours_down_gives_one_late_catch_up_per_channel(
    news_core: Core, publishers: dict[str, Publisher], fake: FakeDiscord, slack: FakeSlack
) -> None:
    core = news_core
    # The last digest went out at 08:00; the bot was down from 08:05 until 10:25.
    went_down = datetime.now(UTC).replace(minute=5, second=0, microsecond=0) - timedelta(hours=2)
    last_slot = went_down.replace(minute=0)
    for ref in (SLACK_REF, DISCORD_REF):
        await core.db.channels.save_channel(ChannelSettings(ref, schedule=HOURLY))
        row = await core.db.channels.row_id(ref)
        claimed = await core.db.deliveries.claim(row, slot_for(last_slot))
        assert claimed is not None
        await core.db.deliveries.mark_sent(claimed.id, ["earlier"], [])
    back = went_down + timedelta(hours=2, minutes=20)

    await restart(core, publishers, back)

    due = back.replace(minute=0)  # the 10:00 slot; 09:00 is not posted as well
    for ref in (SLACK_REF, DISCORD_REF):
        rows = await core.db.deliveries.recent(await core.db.channels.row_id(ref))
        assert [(r.slot_key, r.status) for r in rows] == [
            (slot_for(due), "sent"),
            (slot_for(last_slot), "sent"),
        ]
    late = f"Late: this digest was due at {due:%H:%M}"
    slack_posts = slack.posts()
    assert len(slack_posts) == 1  # a short digest: one message
    assert late in str(slack_posts[0].args["blocks"])
    discord_posts = [m for m in fake.messages if m["via"] == "channel"]
    assert len(discord_posts) == 1
    assert late in discord_posts[0]["content"]

    # The bot restarts once more, a minute later: nothing is posted twice.
    await restart(core, publishers, back + timedelta(minutes=1))
    assert len(slack.posts()) == 1
    assert len([m for m in fake.messages if m["via"] == "channel"]) == 1


async def test_a_digest_on_time_is_not_marked_late(
    news_core: Core, publishers: dict[str, Publisher], slack: FakeSlack
) -> None:
    await news_core.db.channels.save_channel(ChannelSettings(SLACK_REF, schedule=HOURLY))
    now = datetime.now(UTC).replace(minute=2, second=0, microsecond=0)
    await restart(news_core, publishers, now)
    (post,) = slack.posts()
    assert "Late:" not in str(post.args["blocks"])
