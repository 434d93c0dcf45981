"""The real discord.py client against the loopback Discord, driving the real core.

Each test logs in over REST, connects to the fake gateway, receives injected
interactions and answers them the way Discord would see it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.chat.discord import BriefbotClient, DiscordOptions, build_discord_client
from bot.config import Settings, test_settings
from bot.core.models import ChannelRef
from bot.service.core import Core, open_core
from tests.fakes.discord_fake import (
    ADMIN_MEMBER,
    BASIC_MEMBER,
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_CHANNELS,
    TOKEN,
    FakeDiscord,
    message_problems,
    opt,
    running,
    slash,
    sub,
)

REF = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))
SEEDS = {
    "kyiv.json": {
        "title": "Ukraine and partners agree on new energy aid for Kyiv",
        "text": "Ukraine secured a new package of energy aid on Tuesday. "
        "Partners pledged transformers and generators before winter. "
        "Officials in Kyiv said repairs to the grid would start within days.",
        "source": "Wire One",
        "url": "https://wire-one.example/ukraine-energy",
    },
    "markets.json": {
        "title": "Markets close higher as tech shares rally",
        "text": "Stock markets closed higher on Tuesday. Technology shares led the gains. "
        "Traders pointed to strong quarterly results from chip makers.",
        "source": "Wire Two",
        "url": "https://wire-two.example/markets",
    },
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fresh seeds dated now, so the default 24 h window always holds them."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    now = datetime.now(UTC).isoformat()
    for name, seed in SEEDS.items():
        (seeds / name).write_text(json.dumps({**seed, "published": now}), encoding="utf-8")
    return test_settings(tmp_path, sources={"seeds_dir": str(seeds)})


@pytest.fixture
async def bot(fake: FakeDiscord, core: Core) -> AsyncIterator[BriefbotClient]:
    await core.ingest_seeds()
    options = DiscordOptions(token=TOKEN, guild_ids=(GUILD_ID,), guild_ready_timeout=0.05)
    client = build_discord_client(core.router, options, feeds=core.subscriptions)
    assert isinstance(client, BriefbotClient)
    async with running(client):
        yield client


async def ask(fake: FakeDiscord, interaction: dict[str, Any]) -> list[dict[str, Any]]:
    """Inject an interaction; return the follow-ups it produced once the first arrives."""
    token = interaction["token"]
    await fake.inject(interaction)
    await fake.wait_until(lambda: any(token in r.path for r in fake.calls("POST", "/webhooks/")))
    return [r.body for r in fake.calls("POST", "/webhooks/") if token in r.path]


def callback_of(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any]:
    [callback] = [c for c in fake.callbacks if c["interaction"] == interaction["id"]]
    return callback


async def test_client_logs_in_and_syncs_both_commands_to_the_dev_guild(
    fake: FakeDiscord, bot: BriefbotClient
) -> None:
    commands = {c["name"]: c for c in fake.commands[GUILD_ID]}
    assert set(commands) == {"briefing", "briefing-story", "briefing-admin", "briefing-me"}
    assert [o["name"] for o in commands["briefing"]["options"]] == ["topic", "since"]
    assert not any(o.get("required") for o in commands["briefing"]["options"])
    admin = commands["briefing-admin"]
    assert int(admin["default_member_permissions"]) == MANAGE_CHANNELS
    assert {o["name"] for o in admin["options"]} == {
        "subscribe",
        "unsubscribe",
        "feeds",
        "topics",
        "schedule",
        "settings",
        "mute",
        "unmute",
        "mention",
        "threads",
    }
    # default intents only: no members, presences or message content
    assert fake.identifies[0]["intents"] & ((1 << 1) | (1 << 8) | (1 << 15)) == 0


async def test_briefing_with_topic_defers_then_follows_up_with_valid_embeds(
    fake: FakeDiscord, bot: BriefbotClient
) -> None:
    interaction = slash("briefing", [opt("topic", "ukraine")])
    [followup] = await ask(fake, interaction)

    assert callback_of(fake, interaction)["type"] == 5  # deferred first
    first_call = next(i for i, r in enumerate(fake.requests) if interaction["id"] in r.path)
    assert fake.requests[first_call].path.endswith("/callback")
    assert message_problems(followup) == {}
    assert followup["embeds"], followup
    assert [e["title"] for e in followup["embeds"]] == [SEEDS["kyiv.json"]["title"]]
    assert followup["embeds"][0]["url"] == SEEDS["kyiv.json"]["url"]
    assert "Wire One" in followup["embeds"][0]["fields"][0]["value"]
    assert "ukraine" in followup["content"].lower()
    assert followup["allowed_mentions"] == {"parse": []}


async def test_bad_window_gets_a_polite_text_reply(fake: FakeDiscord, bot: BriefbotClient) -> None:
    interaction = slash("briefing", [opt("since", "forever")])
    [reply] = await ask(fake, interaction)
    assert "didn't understand" in reply["content"]
    assert "embeds" not in reply or not reply["embeds"]


async def test_member_without_manage_is_refused_even_when_discord_lets_the_call_through(
    fake: FakeDiscord, bot: BriefbotClient, core: Core
) -> None:
    # Discord would hide the group from this member; a server can override that, so the
    # interaction arrives anyway and the refusal must come from our side.
    interaction = slash(
        "briefing-admin", [sub("topics", action="add", words="energy")], permissions=BASIC_MEMBER
    )
    [reply] = await ask(fake, interaction)
    assert "only admins" in reply["content"]
    assert callback_of(fake, interaction)["data"]["flags"] == 64  # ephemeral
    assert (await core.db.channels.channel(REF)).topics == ()

    allowed = slash(
        "briefing-admin", [sub("topics", action="add", words="energy")], permissions=ADMIN_MEMBER
    )
    [reply] = await ask(fake, allowed)
    assert "energy" in reply["content"]
    assert (await core.db.channels.channel(REF)).topics == ("energy",)


async def test_schedule_and_settings_round_trip_through_the_core(
    fake: FakeDiscord, bot: BriefbotClient
) -> None:
    schedule = sub("schedule", when="weekdays 08:00", timezone="Europe/Kyiv")
    [reply] = await ask(fake, slash("briefing-admin", [schedule], permissions=ADMIN_MEMBER))
    assert "Europe/Kyiv" in reply["content"]
    [reply] = await ask(fake, slash("briefing-admin", [sub("settings")], permissions=ADMIN_MEMBER))
    assert "Europe/Kyiv" in reply["content"]


async def test_time_zone_autocomplete_suggests_iana_zones(
    fake: FakeDiscord, bot: BriefbotClient
) -> None:
    focused = {
        "name": "schedule",
        "type": 1,
        "options": [opt("when", "daily 08:00"), opt("timezone", "kyi", focused=True)],
    }
    interaction = slash("briefing-admin", [focused], permissions=ADMIN_MEMBER, interaction_type=4)
    await fake.inject(interaction)
    await fake.wait_until(
        lambda: any(c["interaction"] == interaction["id"] for c in fake.callbacks)
    )
    callback = callback_of(fake, interaction)
    assert callback["type"] == 8
    assert {"name": "Europe/Kyiv", "value": "Europe/Kyiv"} in callback["data"]["choices"]


async def test_an_interaction_answered_too_late_is_logged_and_the_bot_goes_on(
    fake: FakeDiscord, bot: BriefbotClient, caplog: pytest.LogCaptureFixture
) -> None:
    late = slash("briefing")
    fake.expire(late["id"])
    with caplog.at_level(logging.WARNING, logger="bot.chat.discord"):
        await fake.inject(late)
        await fake.wait_until(
            lambda: any(r.status == 404 for r in fake.calls("POST", late["id"] + "/"))
        )
        # the next user is served normally by the same client
        [reply] = await ask(fake, slash("briefing", [opt("since", "2d")]))
    assert reply["embeds"]
    assert not bot.is_closed()
    assert any("expired" in r.getMessage() and late["id"] in r.getMessage() for r in caplog.records)
    # no follow-up was attempted for the expired one
    assert not [r for r in fake.calls("POST", "/webhooks/") if late["token"] in r.path]


async def test_a_follow_up_after_the_token_expired_is_logged_not_raised(
    fake: FakeDiscord, bot: BriefbotClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("/webhooks/", 404, 10015, "Unknown Webhook")
    with caplog.at_level(logging.WARNING, logger="bot.chat.discord"):
        await ask(fake, slash("briefing", [opt("since", "2d")]))
        [reply] = await ask(fake, slash("briefing", [opt("since", "2d")]))
    assert reply["embeds"]
    assert any("too late" in r.getMessage() for r in caplog.records)


async def test_every_message_payload_disables_mentions(
    fake: FakeDiscord, bot: BriefbotClient
) -> None:
    await ask(fake, slash("briefing", [opt("topic", "@everyone"), opt("since", "2d")]))
    await ask(fake, slash("briefing-admin", [sub("feeds")], permissions=ADMIN_MEMBER))
    await ask(fake, slash("briefing-admin", [sub("settings")], permissions=BASIC_MEMBER))
    payloads = [m for m in fake.messages if "content" in m or "embeds" in m]
    assert len(payloads) >= 3
    assert all(m["allowed_mentions"] == {"parse": []} for m in payloads)
    assert not any("@everyone" in str(m.get("content", "")) for m in payloads)


@pytest.fixture
async def lan_core(tmp_path: Path) -> AsyncIterator[Core]:
    """A core that accepts feeds on 127.0.0.1 (the SSRF guard is on by default)."""
    opened = await open_core(test_settings(tmp_path, sources={"allow_private_networks": True}))
    try:
        yield opened
    finally:
        await opened.close()


async def autocomplete(fake: FakeDiscord, typed: str, permissions: int) -> list[dict[str, str]]:
    focused = {"name": "unsubscribe", "type": 1, "options": [opt("feed", typed, focused=True)]}
    interaction = slash("briefing-admin", [focused], permissions=permissions, interaction_type=4)
    await fake.inject(interaction)
    await fake.wait_until(
        lambda: any(c["interaction"] == interaction["id"] for c in fake.callbacks)
    )
    choices: list[dict[str, str]] = callback_of(fake, interaction)["data"]["choices"]
    return choices


async def test_subscribe_then_unsubscribe_with_feed_autocomplete(
    fake: FakeDiscord, lan_core: Core
) -> None:
    options = DiscordOptions(token=TOKEN, guild_ready_timeout=0.05)
    client = build_discord_client(lan_core.router, options, feeds=lan_core.subscriptions)
    feed_url = "http://127.0.0.1:9/world.xml"
    async with running(client):
        subscribe = sub("subscribe", url=feed_url)
        [reply] = await ask(fake, slash("briefing-admin", [subscribe], permissions=ADMIN_MEMBER))
        assert f"Subscribed this channel to {feed_url}" in reply["content"]

        [choice] = await autocomplete(fake, "world", ADMIN_MEMBER)
        assert feed_url in choice["name"] and choice["value"].isdigit()
        assert await autocomplete(fake, "world", BASIC_MEMBER) == []  # not for non-managers
        assert await autocomplete(fake, "sports", ADMIN_MEMBER) == []

        unsubscribe = sub("unsubscribe", feed=choice["value"])
        [reply] = await ask(fake, slash("briefing-admin", [unsubscribe], permissions=ADMIN_MEMBER))
        assert f"Unsubscribed this channel from {feed_url}" in reply["content"]
    assert await lan_core.subscriptions.feeds(REF) == []


async def test_hostile_feed_text_from_the_core_reaches_discord_inert(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    hostile = {
        "title": "@everyone <@&123> **BREAKING** [login](https://evil.example) ||x||",
        "text": "Markets fell sharply on Monday. @here traders reacted to <@456> quickly. "
        "Analysts expect volatility to continue through the week.",
        "source": "@everyone News",
        "url": "https://news.example/markets",
    }
    (seeds / "hostile.json").write_text(json.dumps(hostile), encoding="utf-8")
    core = await open_core(test_settings(tmp_path, sources={"seeds_dir": str(seeds)}))
    try:
        await core.ingest_seeds()
        options = DiscordOptions(token=TOKEN, guild_ready_timeout=0.05)
        client = build_discord_client(core.router, options)
        async with running(client):
            [followup] = await ask(fake, slash("briefing"))
    finally:
        await core.close()
    embed = followup["embeds"][0]
    everything = json.dumps(followup, ensure_ascii=False)
    for live in ("@everyone", "@here", "<@&123>", "<@456>"):
        assert live not in everything
    assert "\\*\\*BREAKING\\*\\*" in embed["title"] and "\\|\\|x\\|\\|" in embed["title"]
    assert "\\[login](https://evil.example)" in embed["title"]
    assert followup["allowed_mentions"] == {"parse": []}
    assert message_problems(followup) == {}


async def test_configured_admin_may_manage_without_discord_permissions(
    fake: FakeDiscord, core: Core
) -> None:
    from tests.fakes.discord_fake import USER_ID

    options = DiscordOptions(
        token=TOKEN,
        guild_ids=(GUILD_ID,),
        guild_ready_timeout=0.05,
        admin_user_ids=frozenset({str(USER_ID)}),
    )
    client = build_discord_client(core.router, options, feeds=core.subscriptions)
    async with running(client):
        interaction = slash(
            "briefing-admin", [sub("topics", action="add", words="grid")], permissions=BASIC_MEMBER
        )
        [reply] = await ask(fake, interaction)
    assert "grid" in reply["content"]
    assert (await core.db.channels.channel(REF)).topics == ("grid",)


def test_admin_ids_come_from_the_chat_section(tmp_path: Path) -> None:
    settings = test_settings(tmp_path, chat={"admin_user_ids": ["42"]})
    options = DiscordOptions.from_env(settings, env={"DISCORD_TOKEN": "t"})
    assert options.admin_user_ids == frozenset({"42"})


async def test_thread_mode_is_switched_on_and_off_by_an_admin(
    fake: FakeDiscord, bot: BriefbotClient, core: Core
) -> None:
    on = slash("briefing-admin", [sub("threads", state="on")], permissions=ADMIN_MEMBER)
    [reply] = await ask(fake, on)
    assert "Thread mode on" in reply["content"]
    assert (await core.db.channels.channel(REF)).threads
    assert (await core.briefing_for(REF)).threaded  # scheduled digests go threaded
    off = slash("briefing-admin", [sub("threads", state="off")], permissions=ADMIN_MEMBER)
    [reply] = await ask(fake, off)
    assert "Thread mode off" in reply["content"]
    assert not (await core.db.channels.channel(REF)).threads


async def test_mute_an_outlet_and_a_word_then_unmute(
    fake: FakeDiscord, bot: BriefbotClient, core: Core
) -> None:
    def titles(followup: dict[str, Any]) -> list[str]:
        return [e["title"] for e in followup.get("embeds") or []]

    mute_source = sub("mute", source="wire two")
    [reply] = await ask(fake, slash("briefing-admin", [mute_source], permissions=ADMIN_MEMBER))
    assert "Muted outlets: wire two" in reply["content"]
    [followup] = await ask(fake, slash("briefing"))
    assert titles(followup) == [SEEDS["kyiv.json"]["title"]]

    mute_word = sub("mute", words="ENERGY")
    [reply] = await ask(fake, slash("briefing-admin", [mute_word], permissions=ADMIN_MEMBER))
    assert "Muted words: energy" in reply["content"]
    [followup] = await ask(fake, slash("briefing"))
    assert followup["content"].startswith("Nothing new")
    settings = await core.db.channels.channel(REF)
    assert (settings.muted_words, settings.muted_sources) == (("energy",), ("wire two",))
    digest = await core.briefing_for(REF)  # the scheduled digest applies them too
    assert not digest.items

    unmute = sub("unmute", source="Wire Two")
    await ask(fake, slash("briefing-admin", [unmute], permissions=ADMIN_MEMBER))
    [followup] = await ask(fake, slash("briefing"))
    assert titles(followup) == [SEEDS["markets.json"]["title"]]

    refused = slash("briefing-admin", [sub("mute", words="tech")], permissions=BASIC_MEMBER)
    [reply] = await ask(fake, refused)
    assert "only admins" in reply["content"]
    assert (await core.db.channels.channel(REF)).muted_words == ("energy",)
