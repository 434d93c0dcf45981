"""`briefbot discord sync` and `briefbot discord invite` against the loopback Discord."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.chat.discord import DiscordOptions
from bot.cli.discord import (
    application_id,
    cmd_invite,
    cmd_sync,
    invite_command,
    invite_url,
    sync_command,
    sync_commands,
)
from bot.config import test_settings
from bot.errors import ConfigError
from tests.fakes.discord_fake import APP_ID, GUILD_ID, TOKEN, FakeDiscord


def test_invite_url_asks_for_both_scopes_and_only_the_posting_permissions() -> None:
    url = invite_url(APP_ID)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    assert "scope=bot+applications.commands" in parts.query
    query = parse_qs(parts.query)
    assert query["client_id"] == [str(APP_ID)]
    view_channel, send_messages, embed_links = 1 << 10, 1 << 11, 1 << 14
    history = 1 << 16  # a resumed digest finds its own parts
    threads = (1 << 35) | (1 << 38)  # create public threads, send messages in threads
    expected = view_channel | send_messages | embed_links | history | threads
    assert int(query["permissions"][0]) == expected


async def test_sync_uploads_commands_globally(fake: FakeDiscord) -> None:
    names = await sync_commands(DiscordOptions(token=TOKEN))
    assert sorted(names) == ["briefing", "briefing-admin", "briefing-me", "briefing-story"]
    assert sorted(c["name"] for c in fake.commands[None]) == sorted(names)
    assert fake.calls("PUT", f"/applications/{APP_ID}/commands")


async def test_sync_to_one_guild_for_development(fake: FakeDiscord) -> None:
    names = await sync_commands(DiscordOptions(token=TOKEN), guild_id=GUILD_ID)
    assert sorted(names) == ["briefing", "briefing-admin", "briefing-me", "briefing-story"]
    assert None not in fake.commands
    assert sorted(c["name"] for c in fake.commands[GUILD_ID]) == sorted(names)


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


async def test_cli_commands_print_what_a_user_needs(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cmd_sync(DiscordOptions(token=TOKEN), guild_id=GUILD_ID) == 0
    assert f"Synced 4 commands in guild {GUILD_ID}" in capsys.readouterr().out
    assert await cmd_invite(DiscordOptions(token="", application_id=APP_ID)) == 0
    assert capsys.readouterr().out.strip() == invite_url(APP_ID)


async def test_cli_entry_points_read_settings_and_environment(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {"DISCORD_TOKEN": TOKEN}
    plain = test_settings(tmp_path)
    with_id = test_settings(tmp_path, discord={"application_id": "42"})
    assert await sync_command(plain, [str(GUILD_ID)], env) == 0
    names = sorted(c["name"] for c in fake.commands[GUILD_ID])
    assert names == ["briefing", "briefing-admin", "briefing-me", "briefing-story"]
    assert await sync_command(plain, [], env) == 0
    assert None in fake.commands
    capsys.readouterr()
    assert await invite_command(with_id, env={}) == 0
    assert "client_id=42&" in capsys.readouterr().out
    assert await invite_command(plain, env) == 0
    assert f"client_id={APP_ID}&" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="application_id or the DISCORD_TOKEN"):
        await invite_command(plain, env={})


def test_options_from_settings_take_ids_and_sharding(tmp_path: Path) -> None:
    settings = test_settings(
        tmp_path, discord={"application_id": "42", "guild_ids": ["7", "8"], "shard_count": 4}
    )
    options = DiscordOptions.from_env(settings, env={"DISCORD_TOKEN": TOKEN})
    assert (options.application_id, options.guild_ids) == (42, (7, 8))
    assert options.shard_count == 4 and options.sharded
    assert not DiscordOptions.from_env(test_settings(tmp_path), env={"DISCORD_TOKEN": "x"}).sharded
