"""Personal digests: `/briefing me <when> [tz]` and `/briefing me off`, by any user.

The digest goes to the user by direct message through the real outbox, so it posts once
per slot and a crash between send and mark is resumed without a double; a user who
refuses the bot's DMs makes the delivery dead and pauses their schedule with the reason.
Real Bolt app and slack_sdk client against the Slack fake, real discord.py against the
Discord fake, the console harness, on SQLite and PostgreSQL (the ``core`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.console import ConsoleHarness
from bot.chat.discord import BriefbotClient, DiscordOptions, build_discord_client
from bot.chat.discord_render import DiscordPublisher
from bot.chat.slack import SlackOptions, build_slack_app
from bot.chat.slack_render import SlackPublisher
from bot.core.models import Briefing, ChannelRef, ChannelSettings, IncomingCommand
from bot.core.ports import Publisher
from bot.delivery.outbox import Outbox
from bot.service.core import Core
from tests.chat.test_discord_client import ask
from tests.chat.test_slack_http import SECRET, TOKEN, CountingRouter, Harness
from tests.fakes.discord_fake import (
    CHANNEL_ID,
    GUILD_ID,
    USER_ID,
    FakeDiscord,
    opt,
    running,
    slash,
)
from tests.fakes.discord_fake import TOKEN as DISCORD_TOKEN
from tests.fakes.slack_api import FakeSlack, draft, serve_bolt

SLOT = "2026-12-04T05:30Z"
NEXT_SLOT = "2026-12-05T05:30Z"
SLACK_DM = ChannelRef("slack", "dm:UMEMBER", "T1")
DISCORD_DM = ChannelRef("discord", f"dm:{USER_ID}", str(GUILD_ID))
DISCORD_CHANNEL = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))


def outbox(core: Core, platform: str, publisher: Publisher) -> Outbox:
    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref, exclude=seen)

    async def no_wait(_seconds: float) -> None:
        return None

    return Outbox(core.db, {platform: publisher}, briefing_for, sleep=no_wait)


async def crash_after_send(core: Core, box: Outbox, ref: ChannelRef) -> None:
    """A fresh story, then the next slot's delivery dies between the post and the mark
    (as a SIGKILL would), leaving the delivery pending."""
    news = draft(9, "Parliament passes the winter energy budget", "Budget vote. " * 20, 0.5)
    await core.pipeline.ingest("test", [news])
    mark_sent = core.db.deliveries.mark_sent

    async def killed(*_args: Any) -> None:
        raise SystemExit("killed between send and mark")

    core.db.deliveries.mark_sent = killed  # type: ignore[method-assign]
    try:
        with pytest.raises(SystemExit):
            await box.deliver(ref, NEXT_SLOT)
    finally:
        core.db.deliveries.mark_sent = mark_sent  # type: ignore[method-assign]


# -- the grammar, through the router -----------------------------------------------------


async def test_any_user_sets_shows_and_stops_their_own_digest(news_core: Core) -> None:
    core = news_core
    changed: list[ChannelSettings] = []

    async def hook(settings: ChannelSettings) -> None:
        changed.append(settings)

    core.schedule_hooks.append(hook)
    origin = ChannelRef("slack", "C1", "T1")
    await core.db.channels.save_channel(ChannelSettings(origin, timezone="Asia/Tokyo"))

    def me(text: str) -> IncomingCommand:
        return IncomingCommand("slack", "C1", "UMEMBER", f"me {text}".strip(), "T1")

    shown = await core.router.dispatch(me(""))
    assert shown.ephemeral and "Your personal digest is off" in shown.text
    assert "`/briefing me <when> [time zone]`" in shown.text

    reply = await core.router.dispatch(me("daily 07:30 Europe/Kyiv"))  # not an admin
    assert reply.ok and reply.ephemeral
    assert "Personal digest scheduled: daily at 07:30 (Europe/Kyiv)" in reply.text
    assert "`/briefing me off`" in reply.text
    mine = await core.db.channels.channel(SLACK_DM)
    assert (mine.schedule, mine.timezone, mine.origin) == ("30 7 * * *", "Europe/Kyiv", origin)
    assert [c.ref for c in changed] == [SLACK_DM]  # the scheduler hears of it
    assert SLACK_DM in [c.ref for c in await core.db.channels.scheduled()]
    # The channel itself is untouched: no schedule, no admin needed.
    assert (await core.db.channels.channel(origin)).schedule is None

    # Cron works too, and a later change keeps the user's time zone.
    await core.router.dispatch(me("0 8 * * 1-5"))
    mine = await core.db.channels.channel(SLACK_DM)
    assert (mine.schedule, mine.timezone) == ("0 8 * * 1-5", "Europe/Kyiv")
    assert "1-5 at 08:00 (Europe/Kyiv)" in (await core.router.dispatch(me(""))).text

    bad = await core.router.dispatch(me("sometimes"))
    assert not bad.ok and "`/briefing me <when> [time zone]`" in bad.text
    zone = await core.router.dispatch(me("08:00 Mars/Base"))
    assert "“Mars/Base” is not a time zone" in zone.text

    off = await core.router.dispatch(me("off"))
    assert off.text == "Your personal digest is off."
    assert (await core.db.channels.channel(SLACK_DM)).schedule is None
    assert changed[-1].schedule is None
    assert "already off" in (await core.router.dispatch(me("off"))).text


async def test_a_first_schedule_without_a_zone_takes_the_channels(news_core: Core) -> None:
    origin = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))
    await news_core.db.channels.save_channel(ChannelSettings(origin, timezone="Europe/Kyiv"))
    cmd = IncomingCommand("discord", origin.channel, str(USER_ID), "me 07:30", origin.workspace)
    await news_core.router.dispatch(cmd)
    mine = await news_core.db.channels.channel(DISCORD_DM)
    assert (mine.schedule, mine.timezone) == ("30 7 * * *", "Europe/Kyiv")


async def test_the_digest_follows_the_origin_channels_feeds_topics_and_mutes(
    news_core: Core,
) -> None:
    origin = ChannelRef("slack", "C1", "T1")
    cmd = IncomingCommand("slack", "C1", "UMEMBER", "me daily 07:30 UTC", "T1")
    await news_core.router.dispatch(cmd)
    before = await news_core.briefing_for(SLACK_DM)
    assert any("grain" in i.headline for i in before.items)
    settings = await news_core.db.channels.channel(origin)
    await news_core.db.channels.save_channel(replace(settings, muted_words=("grain",)))
    after = await news_core.briefing_for(SLACK_DM)
    assert after.items and not any("grain" in i.headline for i in after.items)
    assert after.mention is None  # a DM never pings


async def test_the_terminal_explains_that_it_has_no_direct_messages(core: Core) -> None:
    console = ConsoleHarness(core.router)
    out = await console.command("/briefing me daily 07:30 Europe/Kyiv")
    assert "Personal digests arrive by direct message, and the terminal has none" in out
    assert "set one up from Slack or Discord" in out
    assert "terminal has none" in await console.command("/briefing me off")
    assert await core.db.channels.scheduled(include_paused=True) == []
    assert await core.db.channels.refs_by_id() == {}  # not even a row
    help_text = await console.command("/briefing help")
    assert "/briefing me <when> [time zone] · /briefing me off" in help_text


# -- Slack ---------------------------------------------------------------------------------


@pytest.fixture
async def slack(news_core: Core) -> AsyncIterator[Harness]:
    """The real Bolt app (signed HTTP) on the wired core, both databases."""
    options = SlackOptions(mode="http", signing_secret=SECRET, bot_token=TOKEN, post_interval=0)
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN, admins={"UADMIN"})
        app = build_slack_app(CountingRouter(news_core), options, client_base_url=fake.api_url)
        async with serve_bolt(app) as url, aiohttp.ClientSession() as session:
            yield Harness(fake, news_core, CountingRouter(news_core), url, session)


def slack_outbox(slack: Harness) -> Outbox:
    client = AsyncWebClient(token=TOKEN, base_url=slack.fake.api_url)
    return outbox(slack.core, "slack", SlackPublisher(client, post_interval=0))


async def test_slack_dm_digest_posts_once_and_resumes_without_a_double(slack: Harness) -> None:
    reply = await slack.ask("me daily 07:30 Europe/Kyiv", user="UMEMBER")
    assert reply["response_type"] == "ephemeral"
    assert "Personal digest scheduled: daily at 07:30 (Europe/Kyiv)" in reply["text"]
    assert not slack.fake.posts()  # nothing in the channel

    box = slack_outbox(slack)
    result = await box.deliver(SLACK_DM, SLOT)
    assert result.status == "sent"
    [opened] = slack.fake.calls_to("conversations.open")
    assert opened.args["users"] == "UMEMBER"
    posts = slack.fake.posts()
    assert posts and {p.args["channel"] for p in posts} == {"DMEMBER"}
    key = posts[0].args["metadata"]["event_payload"]["delivery_key"]
    assert key == f"slack:T1:dm:UMEMBER:{SLOT}"
    assert (await box.deliver(SLACK_DM, SLOT)).status == "duplicate"
    assert len(slack.fake.posts()) == len(posts)

    # Next slot: the post lands, then the process dies before marking it sent.
    await crash_after_send(slack.core, box, SLACK_DM)
    sent_before_resume = len(slack.fake.posts())
    assert sent_before_resume > len(posts)  # the crashed delivery did post
    [resumed] = await box.resume(await slack.core.db.channels.refs_by_id())
    assert resumed.status == "sent"
    assert len(slack.fake.posts()) == sent_before_resume  # found in the DM's history


async def test_slack_user_who_refuses_dms_is_dead_and_paused(slack: Harness) -> None:
    await slack.ask("me 07:30", user="UMEMBER")
    slack.fake.dm_refused["UMEMBER"] = "cannot_dm_bot"
    result = await slack_outbox(slack).deliver(SLACK_DM, SLOT)
    assert result.status == "dead" and "cannot_dm_bot" in (result.error or "")
    (row,) = await slack.core.db.deliveries.listing(failed_only=True)
    assert row.status == "dead" and "conversations.open UMEMBER: cannot_dm_bot" in (
        row.last_error or ""
    )
    paused = (await slack.core.db.channels.channel(SLACK_DM)).paused_reason
    assert paused is not None and "cannot_dm_bot" in paused
    assert SLACK_DM not in [c.ref for c in await slack.core.db.channels.scheduled()]
    assert not slack.fake.posts()
    shown = await slack.ask("me", user="UMEMBER")
    assert "It is paused: slack: conversations.open UMEMBER: cannot_dm_bot" in shown["text"]

    # Setting it again resumes it, once the user accepts DMs.
    del slack.fake.dm_refused["UMEMBER"]
    await slack.ask("me 07:30", user="UMEMBER")
    assert SLACK_DM in [c.ref for c in await slack.core.db.channels.scheduled()]
    assert (await slack_outbox(slack).deliver(SLACK_DM, NEXT_SLOT)).status == "sent"


# -- Discord -------------------------------------------------------------------------------


@pytest.fixture
async def discord_bot(fake: FakeDiscord, news_core: Core) -> AsyncIterator[BriefbotClient]:
    options = DiscordOptions(token=DISCORD_TOKEN, guild_ids=(GUILD_ID,), guild_ready_timeout=0.05)
    client = build_discord_client(news_core.router, options)
    assert isinstance(client, BriefbotClient)
    async with running(client):
        yield client


def me_command(when: str, timezone: str | None = None) -> dict[str, Any]:
    options = [opt("when", when)] + ([opt("timezone", timezone)] if timezone else [])
    return slash("briefing-me", options)  # a plain member: no admin permission


def dm_posts(fake: FakeDiscord, user: int = USER_ID) -> list[dict[str, Any]]:
    channel = fake.dm_channels.get(str(user))
    return [m for m in fake.messages if m["via"] == "channel" and m["channel"] == channel]


async def test_discord_dm_digest_posts_once_and_resumes_without_a_double(
    fake: FakeDiscord, discord_bot: BriefbotClient, news_core: Core
) -> None:
    commands = {c["name"]: c for c in fake.commands[GUILD_ID]}
    assert [o["name"] for o in commands["briefing-me"]["options"]] == ["when", "timezone"]
    assert "default_member_permissions" not in commands["briefing-me"] or (
        commands["briefing-me"]["default_member_permissions"] is None
    )
    [reply] = await ask(fake, me_command("daily 07:30", "Europe/Kyiv"))
    assert "Personal digest scheduled: daily at 07:30 (Europe/Kyiv)" in reply["content"]
    assert "`/briefing-me when:off`" in reply["content"]
    assert reply["flags"] & 64  # ephemeral
    assert (await news_core.db.channels.channel(DISCORD_DM)).origin == DISCORD_CHANNEL

    box = outbox(news_core, "discord", DiscordPublisher(discord_bot))
    result = await box.deliver(DISCORD_DM, SLOT)
    assert result.status == "sent"
    [opened] = fake.calls("POST", "/users/@me/channels")
    assert opened.body == {"recipient_id": USER_ID}
    posts = dm_posts(fake)
    assert posts and len(posts) == len(result.message_ids)
    assert not [m for m in fake.messages if m.get("channel") == str(CHANNEL_ID)]
    assert all(p["allowed_mentions"] == {"parse": []} for p in posts)
    assert (await box.deliver(DISCORD_DM, SLOT)).status == "duplicate"

    await crash_after_send(news_core, box, DISCORD_DM)
    sent_before_resume = len(dm_posts(fake))
    assert sent_before_resume > len(posts)  # the crashed delivery did post
    fake.nonce_window_s = 0.0  # long after the crash: only the DM's history can tell
    [resumed] = await box.resume(await news_core.db.channels.refs_by_id())
    assert resumed.status == "sent"
    assert len(dm_posts(fake)) == sent_before_resume


async def test_discord_user_who_blocks_dms_is_dead_and_paused(
    fake: FakeDiscord, discord_bot: BriefbotClient, news_core: Core
) -> None:
    await ask(fake, me_command("07:30"))
    fake.blocked_dms.add(str(USER_ID))
    box = outbox(news_core, "discord", DiscordPublisher(discord_bot))
    result = await box.deliver(DISCORD_DM, SLOT)
    assert result.status == "dead"
    (row,) = await news_core.db.deliveries.listing(failed_only=True)
    assert row.status == "dead"
    assert "403 Cannot send messages to this user" in (row.last_error or "")
    paused = (await news_core.db.channels.channel(DISCORD_DM)).paused_reason
    assert paused is not None and "Cannot send messages to this user" in paused
    assert DISCORD_DM not in [c.ref for c in await news_core.db.channels.scheduled()]
    assert (await box.deliver(DISCORD_DM, NEXT_SLOT)).status == "paused"
    assert not dm_posts(fake)

    [off] = await ask(fake, me_command("off"))
    assert "Your personal digest is off." in off["content"]
    assert (await news_core.db.channels.channel(DISCORD_DM)).schedule is None


def test_the_admin_cli_names_personal_digests_as_it_prints_them() -> None:
    from bot.cli.admin import _ref_text
    from bot.cli.feeds import _channel_ref

    for ref in (SLACK_DM, DISCORD_DM, ChannelRef("discord", f"dm:{USER_ID}")):
        assert _channel_ref(_ref_text(ref)) == ref
    assert _channel_ref("slack:T1:C1") == ChannelRef("slack", "C1", "T1")
