"""A digest that can never be delivered (channel gone, bot removed, permission or token
revoked) is recorded as dead with the reason, and the channel's schedule pauses until an
admin sets it again; a transient failure does neither. Real clients, loopback fakes."""

from __future__ import annotations

from bot.chat.discord import DiscordOptions, build_discord_client
from bot.chat.discord_render import DiscordPublisher
from bot.chat.slack_render import SlackPublisher
from bot.core.models import Briefing, ChannelRef, ChannelSettings
from bot.core.ports import Publisher
from bot.delivery.outbox import Outbox
from bot.service.core import Core
from tests.chat.conftest import slack_web
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord
from tests.fakes.slack_api import FakeSlack

SLACK_REF = ChannelRef("slack", "CGONE", "T1")
DISCORD_REF = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))


async def _outbox(core: Core, publishers: dict[str, Publisher]) -> Outbox:
    await core.ingest_seeds()

    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref, exclude=seen)

    async def no_wait(_seconds: float) -> None:
        return None

    return Outbox(core.db, publishers, briefing_for, sleep=no_wait)


async def _schedule(core: Core, ref: ChannelRef) -> int:
    await core.db.channels.save_channel(ChannelSettings(ref, schedule="0 8 * * *"))
    return await core.db.channels.row_id(ref)


async def test_slack_channel_not_found_is_dead_and_pauses_the_schedule(
    core: Core, slack: FakeSlack
) -> None:
    client = slack_web(slack)
    outbox = await _outbox(core, {"slack": SlackPublisher(client, post_interval=0)})
    channel_id = await _schedule(core, SLACK_REF)
    slack.fail_next("chat.postMessage", error="channel_not_found")
    result = await outbox.deliver(SLACK_REF, "2026-12-04T08:00Z")
    assert result.status == "dead"
    assert result.error is not None and "channel_not_found" in result.error
    (row,) = await core.db.deliveries.listing(failed_only=True)
    assert (row.channel_id, row.status) == (channel_id, "dead")
    assert "channel_not_found" in (row.last_error or "")
    settings = await core.db.channels.channel(SLACK_REF)
    assert settings.paused_reason is not None and "channel_not_found" in settings.paused_reason
    assert SLACK_REF not in [c.ref for c in await core.db.channels.scheduled()]
    # The next slot is not even tried: no second post, no second dead row.
    posts_before = len(slack.posts())
    assert (await outbox.deliver(SLACK_REF, "2026-12-05T08:00Z")).status == "paused"
    assert len(slack.posts()) == posts_before
    # An admin setting the schedule again resumes it.
    await _schedule(core, SLACK_REF)
    assert SLACK_REF in [c.ref for c in await core.db.channels.scheduled()]
    assert (await outbox.deliver(SLACK_REF, "2026-12-06T08:00Z")).status == "sent"


async def test_a_slack_server_error_is_failed_not_dead(core: Core, slack: FakeSlack) -> None:
    client = slack_web(slack, retry_handlers=[])
    outbox = await _outbox(core, {"slack": SlackPublisher(client, post_interval=0)})
    outbox._max_attempts = 2
    await _schedule(core, SLACK_REF)
    for _ in range(2):
        slack.fail_next("chat.postMessage", status=503)
    result = await outbox.deliver(SLACK_REF, "2026-12-04T08:00Z")
    assert result.status == "failed"
    assert (await core.db.channels.channel(SLACK_REF)).paused_reason is None


async def test_discord_missing_access_is_dead_and_pauses_the_schedule(
    core: Core, fake: FakeDiscord
) -> None:
    client = build_discord_client(core.router, DiscordOptions(token=TOKEN))
    async with client:
        await client.login(TOKEN)
        outbox = await _outbox(core, {"discord": DiscordPublisher(client)})
        await _schedule(core, DISCORD_REF)
        fake.fail("/channels/", 403, 50001, "Missing Access", method="POST")
        result = await outbox.deliver(DISCORD_REF, "2026-12-04T08:00Z")
    assert result.status == "dead"
    (row,) = await core.db.deliveries.listing(failed_only=True)
    assert row.status == "dead" and "Missing Access" in (row.last_error or "")
    paused = (await core.db.channels.channel(DISCORD_REF)).paused_reason
    assert paused is not None and "403" in paused
