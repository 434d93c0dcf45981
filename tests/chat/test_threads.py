"""Thread mode: `/briefing threads on` makes each scheduled digest a short header with
the stories as replies in its thread (Slack ``thread_ts``; Discord a thread started on
the header), and a digest killed half-way resumes into the same thread without a
double. Real Slack and discord.py clients against the loopback fakes."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from bot.chat.discord_render import find_marker
from bot.chat.slack_render import SlackPublisher
from bot.core.models import Briefing, ChannelRef, ChannelSettings, IncomingCommand, Mention
from bot.delivery.outbox import Outbox
from bot.service.core import Core
from tests.chat.conftest import Restart, slack_web
from tests.chat.test_discord_render import briefing, item
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.slack_api import FakeSlack

SLACK_REF = ChannelRef("slack", "CTHREAD", "T1")
DISCORD_REF = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))
KEY = "slot-key-2026-12-04T08:00Z"
ROLE = "777000777000777000"


def threaded(stories: int = 25) -> Briefing:
    return replace(briefing([item(n) for n in range(stories)]), threaded=True)


def slack_publisher(slack: FakeSlack) -> SlackPublisher:
    return SlackPublisher(slack_web(slack), post_interval=0)


async def crash_on_post(hookable: Any, task: asyncio.Task[Any], nth: int) -> None:
    """Cancel ``task`` as soon as the fake stored its ``nth`` post (the bot never hears)."""
    seen = 0
    landed = asyncio.Event()

    def hook(_post: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        if seen == nth:
            landed.set()

    hookable.on_post = hook
    await asyncio.wait_for(landed.wait(), 10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    hookable.on_post = None


def slack_parts(message: dict[str, Any]) -> int:
    return int(message["metadata"]["event_payload"]["part"])


async def test_threads_on_and_off_are_admin_settings(core: Core) -> None:
    def cmd(text: str, admin: bool = True) -> IncomingCommand:
        return IncomingCommand("console", "news", "u1", text, can_manage=admin)

    refused = await core.router.dispatch(cmd("threads on", admin=False))
    assert "admin" in refused.text.lower() or "manage" in refused.text.lower()
    assert not (await core.db.channels.channel(ChannelRef("console", "news"))).threads
    on = await core.router.dispatch(cmd("threads on"))
    assert "thread" in on.text and on.ephemeral
    assert (await core.db.channels.channel(ChannelRef("console", "news"))).threads
    settings = await core.router.dispatch(cmd("settings"))
    assert "thread mode: on" in settings.text
    await core.router.dispatch(cmd("threads off"))
    assert not (await core.db.channels.channel(ChannelRef("console", "news"))).threads
    usage = await core.router.dispatch(cmd("threads sideways"))
    assert "Thread mode is off" in usage.text


async def test_slack_digest_is_a_header_with_the_stories_in_its_thread(
    slack: FakeSlack,
) -> None:
    digest = replace(threaded(), mention=Mention("here"))
    ids = await slack_publisher(slack).publish(SLACK_REF, digest, KEY)

    (header,) = slack.messages["CTHREAD"]
    assert "25 stories" in header["text"] and header["text"].startswith("<!here>")
    replies = slack.threads[("CTHREAD", header["ts"])]
    assert len(replies) >= 2
    assert [slack_parts(m) for m in [header, *replies]] == list(range(1, len(replies) + 2))
    assert ids == [header["ts"]] + [m["ts"] for m in replies]
    assert all("<!here>" not in m["text"] for m in replies)  # one ping, on the header


async def test_slack_threaded_digest_killed_after_the_header_resumes_into_its_thread(
    slack: FakeSlack,
) -> None:
    digest = threaded()
    first = asyncio.create_task(slack_publisher(slack).publish(SLACK_REF, digest, KEY))
    await crash_on_post(slack, first, nth=2)  # header and the first reply are stored
    ids = await slack_publisher(slack).publish(SLACK_REF, digest, KEY)

    (header,) = slack.messages["CTHREAD"]
    replies = slack.threads[("CTHREAD", header["ts"])]
    assert [slack_parts(m) for m in replies] == list(range(2, len(replies) + 2))
    assert len(ids) == len(set(ids)) == len(replies) + 1


async def test_discord_digest_is_a_header_with_a_thread_of_stories(
    fake: FakeDiscord, restart: Restart
) -> None:
    digest = replace(threaded(), mention=Mention("role", ROLE, "@editors"))
    ids = await (await restart()).publish(DISCORD_REF, digest, KEY)

    channel_posts = [m for m in fake.messages if m["channel"] == str(CHANNEL_ID)]
    assert len(channel_posts) == 1
    header = channel_posts[0]
    assert header["content"].startswith(f"<@&{ROLE}>") and "25 stories" in header["content"]
    assert [str(r) for r in header["allowed_mentions"]["roles"]] == [ROLE]
    assert list(fake.threads) == [ids[0]]
    in_thread = [m for m in fake.messages if m["channel"] == ids[0]]
    assert len(in_thread) == 3 == len(ids) - 1
    assert all(m["allowed_mentions"] == {"parse": []} for m in in_thread)
    titles = [e["title"] for m in in_thread for e in m["embeds"]]
    assert titles == [f"Story number {n}: talks resume in Geneva" for n in range(25)]


async def test_discord_threaded_digest_resumes_past_the_nonce_window(
    fake: FakeDiscord, restart: Restart
) -> None:
    clock = [1000.0]
    fake.clock = lambda: clock[0]
    digest = threaded()
    first = asyncio.create_task((await restart()).publish(DISCORD_REF, digest, KEY))
    await crash_on_post(fake, first, nth=2)  # header + first part in the thread
    clock[0] += 30 * 60  # Discord has forgotten both nonces

    ids = await (await restart()).publish(DISCORD_REF, digest, KEY)

    markers = [
        find_marker(
            m["content"]
            if "content" in m and not m["embeds"]
            else m["embeds"][-1]["footer"]["text"]
        )
        for m in fake.messages
    ]
    assert [m[1] for m in markers if m is not None] == [1, 2, 3, 4]
    assert len(fake.threads) == 1 and ids[0] in fake.threads
    assert len(ids) == len(set(ids)) == 4


async def test_a_channel_in_thread_mode_gets_threaded_scheduled_digests(
    news_core: Core, slack: FakeSlack
) -> None:
    core = news_core
    await core.db.channels.save_channel(
        ChannelSettings(SLACK_REF, schedule="0 8 * * *", threads=True)
    )

    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref, exclude=seen)

    outbox = Outbox(core.db, {"slack": slack_publisher(slack)}, briefing_for)
    result = await outbox.deliver(SLACK_REF, "2026-12-04T08:00Z")
    assert result.status == "sent"
    (header,) = slack.messages["CTHREAD"]
    assert header["text"].endswith(("1 story", " stories"))
    assert slack.threads[("CTHREAD", header["ts"])]
