"""`briefbot discord sync` and `briefbot discord invite` against the loopback Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.chat.discord import DiscordOptions
from bot.chat.discord_cli import application_id, invite_url, sync_commands
from bot.errors import ConfigError
from tests.fakes.discord_fake import APP_ID, GUILD_ID, TOKEN, FakeDiscord


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    server.patch(monkeypatch)
    try:
        yield server
    finally:
        await server.close()


def test_invite_url_asks_for_both_scopes_and_only_the_posting_permissions() -> None:
    url = invite_url(APP_ID)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    assert "scope=bot+applications.commands" in parts.query
    query = parse_qs(parts.query)
    assert query["client_id"] == [str(APP_ID)]
    view_channel, send_messages, embed_links = 1 << 10, 1 << 11, 1 << 14
    assert int(query["permissions"][0]) == view_channel | send_messages | embed_links


async def test_sync_uploads_commands_globally(fake: FakeDiscord) -> None:
    names = await sync_commands(DiscordOptions(token=TOKEN))
    assert sorted(names) == ["briefing", "briefing-admin"]
    assert sorted(c["name"] for c in fake.commands[None]) == names
    assert fake.calls("PUT", f"/applications/{APP_ID}/commands")


async def test_sync_to_one_guild_for_development(fake: FakeDiscord) -> None:
    names = await sync_commands(DiscordOptions(token=TOKEN), guild_id=GUILD_ID)
    assert sorted(names) == ["briefing", "briefing-admin"]
    assert None not in fake.commands
    assert sorted(c["name"] for c in fake.commands[GUILD_ID]) == names


async def test_a_refused_token_is_a_config_error(fake: FakeDiscord) -> None:
    with pytest.raises(ConfigError, match="DISCORD_TOKEN was refused"):
        await sync_commands(DiscordOptions(token="wrong"))


async def test_application_id_comes_from_config_or_from_discord(fake: FakeDiscord) -> None:
    assert await application_id(DiscordOptions(token="unused", application_id=42)) == 42
    assert await application_id(DiscordOptions(token=TOKEN)) == APP_ID


def test_options_read_the_token_from_the_environment_and_never_show_it() -> None:
    options = DiscordOptions.from_env(env={"DISCORD_TOKEN": "s3cr3t-token"})
    assert options.token == "s3cr3t-token"
    assert "s3cr3t" not in repr(options) and "s3cr3t" not in str(options)
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        DiscordOptions.from_env(env={})
