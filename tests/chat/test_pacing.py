"""Pacing: a Slack channel gets at most one message a second (Slack drops the overflow
silently); a Discord webhook 429 storm is waited out with nothing lost or doubled."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack_render import SlackPublisher
from bot.chat.webhook_channels import WebhookChannels
from bot.chat.webhooks import WebhookPublisher
from bot.core.models import Briefing, ChannelRef, ChannelSettings
from bot.delivery.outbox import Outbox
from bot.delivery.pacing import ChannelPacer
from bot.service.core import Core
from tests.chat.test_discord_render import briefing, item
from tests.chat.test_slack_publisher import digest
from tests.fakes.discord_fake import FakeDiscord, message_problems
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-pace"


class VirtualClock:
    """A clock that moves only when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        yield fake


async def test_a_30_part_slack_digest_is_posted_one_message_per_second(
    slack: FakeSlack,
) -> None:
    clock = VirtualClock()
    posted_at: list[float] = []
    pacer = ChannelPacer(1.0, clock=clock, sleep=clock.sleep)
    original = pacer.wait

    async def wait(channel: str) -> None:
        await original(channel)
        posted_at.append(clock.now)

    pacer.wait = wait  # type: ignore[method-assign]
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    publisher = SlackPublisher(client, pacer=pacer)
    ref = ChannelRef("slack", "CBUSY", "T1")
    ids = await publisher.publish(ref, digest(620), "slack:T1:CBUSY:2026-12-04T08:00Z")
    assert len(ids) == len(slack.posts()) == 30
    gaps = [b - a for a, b in itertools.pairwise(posted_at)]
    assert len(gaps) == 29 and min(gaps) >= 1.0
    assert clock.sleeps == [1.0] * 29
    # A notice right after the digest waits its turn too, on the same channel only.
    await publisher.notify(ref, "feed notice")
    assert clock.sleeps[-1] == 1.0
    await publisher.notify(ChannelRef("slack", "CQUIET", "T1"), "elsewhere")
    assert len(clock.sleeps) == 30  # another channel does not wait


async def test_a_discord_webhook_429_storm_loses_and_doubles_nothing(
    core: Core, fake: FakeDiscord
) -> None:
    await core.ingest_seeds()
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    async with aiohttp.ClientSession() as session:
        hook = WebhookPublisher(fake.webhook_url(), session, sleep=no_wait)
        channels = WebhookChannels({"HOOK": hook})
        ref = ChannelRef("webhook", "HOOK")
        await core.db.channels.save_channel(ChannelSettings(ref, schedule="0 8 * * *"))
        stories = [item(n) for n in range(25)]  # three messages of embeds

        async def briefing_for(_ref: ChannelRef, _seen: set[int]) -> Briefing:
            return briefing(stories)

        outbox = Outbox(core.db, {"webhook": channels}, briefing_for, sleep=no_wait)
        # Part 1 lands, then every request 429s seven times in a row.
        fake.rate_limit("/api/webhooks/", retry_after=0.5, times=7)
        result = await outbox.deliver(ref, "2026-12-04T08:00Z")
    assert result.status == "sent"
    posts = [m for m in fake.messages if m["via"] == "webhook"]
    assert len(posts) == len(result.message_ids) == 3
    assert sum(len(p["embeds"]) for p in posts) == 25  # every story, once
    assert all(message_problems(p) == {} for p in posts)
    assert len(waits) >= 7 and all(w >= 0.5 for w in waits[:7])
