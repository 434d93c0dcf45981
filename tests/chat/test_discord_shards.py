"""Sharding over the loopback gateway, and the canary for the internals the harness patches."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import yarl

from bot.chat.discord import DiscordOptions, ShardedBriefbotClient, build_discord_client
from bot.service.core import Core
from tests.fakes.discord_fake import TOKEN, FakeDiscord, running, slash

# Two guild ids that land on different shards of two: (id >> 22) % 2.
GUILD_EVEN = 4 << 22
GUILD_ODD = 5 << 22


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(guild_ids=(GUILD_EVEN, GUILD_ODD), recommended_shards=2)
    await server.start()
    server.patch(monkeypatch)
    try:
        yield server
    finally:
        await server.close()


def test_canary_discord_internals_the_harness_patches_are_where_we_expect() -> None:
    """Fails loudly when discord.py moves the attributes the loopback harness patches.

    If this breaks after an upgrade, fix ``FakeDiscord.patch`` and the pin in
    pyproject.toml (``discord.py>=2.7,<2.8``) together.
    """
    assert discord.__version__.startswith("2.7."), discord.__version__
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert str(gateway) == "wss://gateway.discord.gg/"
    assert isinstance(gateway, yarl.URL)
    # Route.url must still be built from the class attribute at call time.
    assert discord.http.Route("GET", "/users/@me").url == "https://discord.com/api/v10/users/@me"


def test_canary_patching_redirects_rest_and_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDiscord(port=1234)
    fake.patch(monkeypatch)
    assert (
        discord.http.Route("GET", "/gateway/bot").url == "http://127.0.0.1:1234/api/v10/gateway/bot"
    )
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY).startswith("ws://127.0.0.1:1234/")


async def no_identify_pause(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s between shard IDENTIFYs (Discord's limit); the fake has none."""


async def test_auto_sharded_client_asks_for_the_shard_count_and_connects_every_shard(
    fake: FakeDiscord, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = DiscordOptions(token=TOKEN, auto_shard=True, guild_ready_timeout=0.05)
    client = build_discord_client(core.router, options)
    assert isinstance(client, ShardedBriefbotClient)
    monkeypatch.setattr(client, "before_identify_hook", no_identify_pause)
    async with running(client):
        assert fake.calls("GET", "/gateway/bot")
        assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]]
        assert client.shard_count == 2
        assert {g.id: g.shard_id for g in client.guilds} == {GUILD_EVEN: 0, GUILD_ODD: 1}

        # an interaction on the second shard is served like any other
        interaction = slash("briefing", guild_id=GUILD_ODD)
        await fake.inject(interaction)
        await fake.wait_until(lambda: len(fake.calls("POST", interaction["token"])) >= 2)
    calls = fake.calls("POST", interaction["token"])
    assert calls[0].path.endswith("/callback") and "/webhooks/" in calls[1].path
    assert all(r.status == 200 for r in calls)


async def test_configured_shard_ids_connect_only_those_shards(
    fake: FakeDiscord, core: Core
) -> None:
    options = DiscordOptions(token=TOKEN, shard_count=2, shard_ids=(1,), guild_ready_timeout=0.05)
    client = build_discord_client(core.router, options)
    assert isinstance(client, ShardedBriefbotClient)
    async with running(client):
        assert [i["shard"] for i in fake.identifies] == [[1, 2]]
        assert [g.id for g in client.guilds] == [GUILD_ODD]
