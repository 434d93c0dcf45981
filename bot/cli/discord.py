"""`briefbot discord sync` and `briefbot discord invite`: the two one-off Discord chores.

Global command sync takes a while to reach every client and is rate limited, so it is
done on demand here, not at every start; ``--guild`` syncs to one server instantly,
for development. The invite link asks only for what posting digests needs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

import discord

from bot.chat.discord import DiscordOptions, SettingsLike, build_discord_client
from bot.core.models import ChannelRef, IncomingCommand, Reply
from bot.errors import ConfigError, DeliveryError

log = logging.getLogger(__name__)

#: View Channel + Send Messages + Embed Links: enough to post digests as embeds.
# Read Message History lets a digest resumed after a crash find the parts it already
# posted (Discord forgets message nonces after a few minutes); the thread permissions
# serve channels in thread mode (`/briefing threads on`).
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)


def invite_url(application_id: int) -> str:
    """The OAuth2 link a server admin opens to add the bot with its commands."""
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&scope=bot+applications.commands"
        f"&permissions={INVITE_PERMISSIONS.value}"
    )


class _SyncOnly:
    """Commands are only being uploaded; nothing is dispatched during a sync."""

    async def dispatch(self, cmd: IncomingCommand) -> Reply:
        return Reply(text="briefbot is not running here.", ephemeral=True, ok=False)

    async def story(self, ref: ChannelRef, story_id: int) -> Reply:
        return Reply(text="briefbot is not running here.", ephemeral=True, ok=False)


async def sync_commands(options: DiscordOptions, guild_id: int | None = None) -> list[str]:
    """Upload the command definitions (globally, or to one guild); returns their names."""
    client = build_discord_client(_SyncOnly(), replace(options, sync_on_start=False))
    try:
        async with client:
            await client.login(options.token)
            if guild_id is None:
                synced = await client.tree.sync()
            else:
                guild = discord.Object(id=guild_id)
                client.tree.copy_global_to(guild=guild)
                synced = await client.tree.sync(guild=guild)
    except discord.LoginFailure as exc:
        raise ConfigError("discord: DISCORD_TOKEN was refused (401)") from exc
    except discord.HTTPException as exc:
        raise DeliveryError(f"discord: command sync failed: {exc.status} {exc.text}") from exc
    names = [command.name for command in synced]
    log.info("discord: synced commands=%s guild=%s", names, guild_id or "global")
    return names


async def application_id(options: DiscordOptions) -> int:
    """The configured application id, or the one Discord reports for the token."""
    if options.application_id:
        return options.application_id
    client = discord.Client(intents=discord.Intents.default())
    try:
        async with client:
            await client.login(options.token)
            info = await client.application_info()
    except discord.LoginFailure as exc:
        raise ConfigError("discord: DISCORD_TOKEN was refused (401)") from exc
    return info.id


async def cmd_sync(options: DiscordOptions, guild_id: int | None = None) -> int:
    """CLI: ``briefbot discord sync [--guild ID]``; prints what was synced."""
    names = await sync_commands(options, guild_id)
    where = f"in guild {guild_id}" if guild_id else "globally (may take up to an hour to appear)"
    print(f"Synced {len(names)} commands {where}: {', '.join('/' + n for n in names)}")
    return 0


async def cmd_invite(options: DiscordOptions) -> int:
    """CLI: ``briefbot discord invite``; prints the invite URL.

    With ``[discord] application_id`` set no token is needed (``DiscordOptions(token="",
    application_id=...)``); otherwise the id is asked from Discord with the token.
    """
    print(invite_url(await application_id(options)))
    return 0


async def sync_command(
    settings: SettingsLike, guilds: Sequence[str], env: Mapping[str, str] | None = None
) -> int:
    """``briefbot discord sync [--guild ID ...]``: globally, or to each given guild."""
    options = DiscordOptions.from_env(settings, env)
    try:
        guild_ids = [int(g) for g in guilds]
    except ValueError as exc:
        raise ConfigError("discord sync: --guild must be a numeric guild id") from exc
    if not guild_ids:
        return await cmd_sync(options)
    for guild_id in guild_ids:
        await cmd_sync(options, guild_id)
    return 0


async def invite_command(settings: SettingsLike, env: Mapping[str, str] | None = None) -> int:
    """``briefbot discord invite``: from ``[discord] application_id``, else via the token."""
    env = os.environ if env is None else env
    configured = settings.discord.application_id.strip()
    if configured:
        if not configured.isdigit():
            raise ConfigError("config: [discord] application_id must be a numeric id")
        return await cmd_invite(DiscordOptions(token="", application_id=int(configured)))
    if not env.get("DISCORD_TOKEN"):
        raise ConfigError(
            "discord invite: set [discord] application_id or the DISCORD_TOKEN environment variable"
        )
    return await cmd_invite(DiscordOptions.from_env(settings, env))
