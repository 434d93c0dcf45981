"""Opt-in digest mentions: an admin picks one role (Discord), user group or @here (Slack);
the scheduled digest pings exactly that, and hostile feed text still pings no one.

Discord and Slack are the loopback fakes driven by the real discord.py client and the
real Bolt app; digests go through the real outbox and publishers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.console import ConsoleHarness
from bot.chat.discord import BriefbotClient
from bot.chat.discord_render import DiscordPublisher
from bot.chat.slack_render import SlackPublisher
from bot.config import test_settings
from bot.core import mentions
from bot.core.models import ArticleDraft, Briefing, ChannelRef, Mention
from bot.delivery.outbox import Outbox
from bot.errors import CommandError
from bot.service.core import Core, open_core
from tests.chat.test_discord_client import REF, ask, bot, settings
from tests.chat.test_slack_http import Harness, harness
from tests.fakes.discord_fake import (
    ADMIN_MEMBER,
    BASIC_MEMBER,
    GUILD_ID,
    FakeDiscord,
    slash,
)

__all__ = ["bot", "harness", "settings"]  # fixtures shared with the adapter tests

ROLE_ID = "666666666666666666"
OTHER_ROLE = "777777777777777777"
HOSTILE = f"Alarm @everyone <@&{OTHER_ROLE}> <!channel> @here over the budget vote"


def hostile_draft() -> ArticleDraft:
    return ArticleDraft(
        source="Rumour Mill",
        key="hostile-1",
        title=HOSTILE,
        text="Lawmakers approved the spending plan for the coming year by a narrow margin. "
        "Opposition members walked out before the count. " * 3,
        published_at=datetime.now(UTC),
        url="https://rumour.example/budget",
    )


def outbox_for(core: Core, publisher: Any, platform: str) -> Outbox:
    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref, exclude=seen)

    return Outbox(core.db, {platform: publisher}, briefing_for)


# -- the grammar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "text", "expected"),
    [
        ("discord", f"<@&{ROLE_ID}> @Editors", Mention("role", ROLE_ID, "@Editors")),
        ("discord", ROLE_ID, Mention("role", ROLE_ID, f"role {ROLE_ID}")),
        ("slack", "here", Mention("here")),
        ("slack", "<!here>", Mention("here")),
        ("slack", "<!subteam^S0EDIT|@editors>", Mention("group", "S0EDIT", "@editors")),
        ("slack", "OFF", None),
        ("discord", "off", None),
    ],
)
def test_targets_in_each_platforms_syntax(
    platform: str, text: str, expected: Mention | None
) -> None:
    ref = ChannelRef(platform, "C1", str(GUILD_ID))  # type: ignore[arg-type]
    assert mentions.parse(ref, text) == expected


@pytest.mark.parametrize(
    ("platform", "text", "answer"),
    [
        ("slack", "@channel", "won't ping everyone"),
        ("slack", "<!channel>", "won't ping everyone"),
        ("discord", "@everyone", "won't ping everyone"),
        ("discord", f"<@&{GUILD_ID}>", "won't ping the whole server"),  # the @everyone role
        ("slack", "@nosuchgroup", "couldn't find a user group called @nosuchgroup"),
        ("slack", "<@U123>", "Usage:"),
        ("discord", "@Editors", "Usage:"),
        ("console", "here", "for Slack and Discord channels"),
    ],
)
def test_loud_or_unknown_targets_are_refused(platform: str, text: str, answer: str) -> None:
    ref = ChannelRef(platform, "C1", str(GUILD_ID))  # type: ignore[arg-type]
    with pytest.raises(CommandError, match=answer):
        mentions.parse(ref, text)


async def test_the_terminal_explains_and_stores_nothing(tmp_path: Path) -> None:
    core = await open_core(test_settings(tmp_path))
    try:
        console = ConsoleHarness(core.router)
        out = await console.command("/briefing mention here")
        assert "Digest mentions are for Slack and Discord channels." in out
        assert "digest mention: none" in await console.command("/briefing settings")
        assert "/briefing mention <@role, @group or here> · /briefing mention off" in (
            await console.command("/briefing help")
        )
        assert (await core.db.channels.channel(ChannelRef("console", "console"))).mention is None
    finally:
        await core.close()


# -- Discord --------------------------------------------------------------------------------


def role_option(role_id: str, name: str = "Editors") -> dict[str, Any]:
    """``/briefing-admin mention role:@name`` as Discord sends it: the id plus the
    resolved role object."""
    option = {"name": "role", "type": 8, "value": role_id}
    subcommand = {"name": "mention", "type": 1, "options": [option]}
    interaction = slash("briefing-admin", [subcommand], permissions=ADMIN_MEMBER)
    role = {
        "id": role_id,
        "name": name,
        "permissions": "0",
        "position": 1,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": True,
        "flags": 0,
    }
    interaction["data"]["resolved"] = {"roles": {role_id: role}}
    return interaction


def mention_off(permissions: int = ADMIN_MEMBER) -> dict[str, Any]:
    option = {"name": "mention", "type": 1, "options": [{"name": "off", "type": 5, "value": True}]}
    return slash("briefing-admin", [option], permissions=permissions)


async def test_discord_digest_pings_exactly_the_chosen_role_and_feed_text_pings_no_one(
    fake: FakeDiscord, bot: BriefbotClient, core: Core
) -> None:
    await core.pipeline.ingest("test", [hostile_draft()])
    [reply] = await ask(fake, role_option(ROLE_ID))
    assert "Each scheduled digest here will ping @Editors" in reply["content"]
    assert reply["allowed_mentions"] == {"parse": []}  # the confirmation pings no one
    assert (await core.db.channels.channel(REF)).mention == Mention("role", ROLE_ID, "@Editors")

    # An on-demand briefing never pings, even with a role configured.
    [followup] = await ask(fake, slash("briefing"))
    assert followup["allowed_mentions"] == {"parse": []}
    assert f"<@&{ROLE_ID}>" not in followup.get("content", "")

    result = await outbox_for(core, DiscordPublisher(bot), "discord").deliver(REF, "slot-1")
    assert result.status == "sent"
    [post] = [m for m in fake.messages if m["via"] == "channel"]
    assert post["allowed_mentions"] == {"parse": [], "roles": [int(ROLE_ID)]}
    assert post["content"].startswith(f"<@&{ROLE_ID}>\n**Briefing")
    [evil] = [e for e in post["embeds"] if "budget vote" in e["title"]]
    body = str(post)
    assert "Rumour Mill" in body
    # The hostile title is inert even though one role may ping: every mention is broken.
    assert "@everyone" not in body and "@here" not in body
    assert f"<@&{OTHER_ROLE}>" not in body
    assert "@\u200beveryone" in evil["title"] and f"<\u200b@&{OTHER_ROLE}>" in evil["title"]


async def test_discord_mention_off_members_and_the_everyone_role(
    fake: FakeDiscord, bot: BriefbotClient, core: Core
) -> None:
    [refused] = await ask(fake, role_option(str(GUILD_ID), "@everyone"))
    assert "won't ping the whole server" in refused["content"]
    await ask(fake, role_option(ROLE_ID))

    member = role_option(OTHER_ROLE)
    member["member"]["permissions"] = str(BASIC_MEMBER)
    [reply] = await ask(fake, member)
    assert "only admins" in reply["content"]
    [reply] = await ask(fake, mention_off(BASIC_MEMBER))
    assert "only admins" in reply["content"]
    assert (await core.db.channels.channel(REF)).mention == Mention("role", ROLE_ID, "@Editors")

    [reply] = await ask(fake, mention_off())
    assert "ping no one" in reply["content"]
    assert (await core.db.channels.channel(REF)).mention is None
    await outbox_for(core, DiscordPublisher(bot), "discord").deliver(REF, "slot-2")
    [post] = [m for m in fake.messages if m["via"] == "channel"]
    assert post["allowed_mentions"] == {"parse": []}
    assert "<@&" not in post["content"]


# -- Slack ----------------------------------------------------------------------------------


async def test_slack_digest_pings_the_named_user_group_and_feed_text_stays_inert(
    harness: Harness,
) -> None:
    harness.fake.workspaces["xoxb-test-1"].usergroups["editors"] = "S0EDIT"
    await harness.core.pipeline.ingest("test", [hostile_draft()])
    reply = await harness.ask("mention @editors")
    assert reply["response_type"] == "ephemeral"
    assert "Each scheduled digest here will ping @editors" in reply["text"]
    ref = ChannelRef("slack", "C1", "T1")
    assert (await harness.core.db.channels.channel(ref)).mention == Mention(
        "group", "S0EDIT", "@editors"
    )

    client = AsyncWebClient(token="xoxb-test-1", base_url=harness.fake.api_url)
    publisher = SlackPublisher(client, post_interval=0)
    result = await outbox_for(harness.core, publisher, "slack").deliver(ref, "slot-1")
    assert result.status == "sent"
    [post] = harness.fake.posts()
    blocks = post.args["blocks"]
    assert blocks[1] == {"type": "section", "text": {"type": "mrkdwn", "text": "<!subteam^S0EDIT>"}}
    assert post.args["text"].startswith("<!subteam^S0EDIT> Briefing")
    payload = str(post.args)
    # The one live mention; the feed's <!channel> and <@&…> arrive escaped.
    assert payload.count("<!") == 2  # the block and the notification text
    assert "&lt;!channel&gt;" in payload and f"&lt;@&amp;{OTHER_ROLE}&gt;" in payload


async def test_slack_here_off_unknown_loud_and_members(harness: Harness) -> None:
    ref = ChannelRef("slack", "C1", "T1")
    assert "ping @here" in (await harness.ask("mention here"))["text"]
    assert (await harness.core.db.channels.channel(ref)).mention == Mention("here")
    digest = await harness.core.briefing_for(ref)
    assert digest.mention == Mention("here")

    unknown = await harness.ask("mention @nosuch")
    assert "couldn't find a user group called @nosuch" in unknown["text"]
    loud = await harness.ask("mention @channel")
    assert "won't ping everyone" in loud["text"]
    member = await harness.ask("mention here", user="UMEMBER")
    assert member["text"].startswith("Sorry, only admins")
    # Only an admin's mention command looks the group up.
    assert len(harness.fake.calls_to("usergroups.list")) == 1

    settings_text = (await harness.ask("settings"))["text"]
    assert "digest mention: @here is pinged with each scheduled digest" in settings_text
    assert "ping no one" in (await harness.ask("mention off"))["text"]
    assert (await harness.core.db.channels.channel(ref)).mention is None
