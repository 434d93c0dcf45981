"""Scheduled digests through the real discord.py REST client into the loopback fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.chat.discord import DiscordOptions, build_discord_client
from bot.chat.discord_render import DiscordPublisher
from bot.core.models import ChannelRef
from bot.errors import DeliveryError
from bot.service.core import Core
from tests.chat.test_discord_render import briefing, item
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord, message_problems

REF = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))


@pytest.fixture
async def publisher(fake: FakeDiscord, core: Core) -> AsyncIterator[DiscordPublisher]:
    """The bot's own client, logged in over REST (scheduled posts need no gateway)."""
    options = DiscordOptions(token=TOKEN, max_ratelimit_timeout=5.0)
    client = build_discord_client(core.router, options)
    async with client:
        await client.login(TOKEN)
        yield DiscordPublisher(client)


def channel_posts(fake: FakeDiscord) -> list[dict[str, object]]:
    return [m for m in fake.messages if m["via"] == "channel"]


async def test_sixty_story_digest_lands_in_valid_messages_with_nothing_dropped(
    fake: FakeDiscord, publisher: DiscordPublisher
) -> None:
    stories = [item(n, summary="A long summary sentence. " * 70, sources=8) for n in range(60)]
    ids = await publisher.publish(REF, briefing(stories), "discord:slot-1")

    posts = channel_posts(fake)
    assert fake.rejected == []
    assert len(ids) == len(posts) == len(set(ids)) > 6
    for post in posts:
        assert message_problems(post) == {}
        assert post["allowed_mentions"] == {"parse": []}
        assert post["enforce_nonce"] is True
    titles = [e["title"] for post in posts for e in post["embeds"]]  # type: ignore[attr-defined]
    assert titles == [f"Story number {n}: talks resume in Geneva" for n in range(60)]


async def test_a_retried_delivery_is_not_posted_twice(
    fake: FakeDiscord, publisher: DiscordPublisher
) -> None:
    digest = briefing([item(n) for n in range(12)])
    first = await publisher.publish(REF, digest, "discord:slot-2")
    again = await publisher.publish(REF, digest, "discord:slot-2")
    assert again == first
    assert len(channel_posts(fake)) == len(first) == 2


async def test_429_with_discord_headers_is_waited_out_and_the_post_lands(
    fake: FakeDiscord, publisher: DiscordPublisher
) -> None:
    fake.rate_limit("/channels/", retry_after=0.05, method="POST")
    ids = await publisher.publish(REF, briefing([item(1)]), "discord:slot-3")
    statuses = [r.status for r in fake.calls("POST", "/channels/")]
    assert statuses == [429, 200]
    assert len(ids) == 1 and len(channel_posts(fake)) == 1


async def test_a_long_rate_limit_becomes_a_delivery_error_with_retry_after(
    fake: FakeDiscord, publisher: DiscordPublisher
) -> None:
    fake.rate_limit("/channels/", retry_after=600, method="POST")
    with pytest.raises(DeliveryError) as caught:
        await publisher.publish(REF, briefing([item(1)]), "discord:slot-4")
    assert caught.value.retry_after == 600
    assert not caught.value.permanent
    assert channel_posts(fake) == []


async def test_missing_permissions_is_a_permanent_delivery_error(
    fake: FakeDiscord, publisher: DiscordPublisher
) -> None:
    fake.fail("/channels/", 403, 50013, "Missing Permissions", method="POST")
    with pytest.raises(DeliveryError, match="403 Missing Permissions") as caught:
        await publisher.publish(REF, briefing([item(1)]), "discord:slot-5")
    assert caught.value.permanent


async def test_hostile_feed_text_reaches_discord_inert(
    fake: FakeDiscord, publisher: DiscordPublisher
) -> None:
    hostile = item(1, headline="@everyone <@&123> **click** [me](https://evil.example)")
    await publisher.publish(REF, briefing([hostile]), "discord:slot-6")
    [post] = channel_posts(fake)
    title = post["embeds"][0]["title"]  # type: ignore[index]
    assert "@everyone" not in title and "<@&123>" not in title
    assert "\\*\\*click\\*\\*" in title and "\\[me](https://evil.example)" in title
    assert post["allowed_mentions"] == {"parse": []}
