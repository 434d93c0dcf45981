"""`briefbot check-config --online`: ask each configured platform whether it accepts
its token (plain `check-config` never leaves the machine).

Slack: ``auth.test`` on ``[slack] api_url`` with SLACK_BOT_TOKEN. Discord: the same
``GET /users/@me`` that `run` makes before it logs in. A refused token raises
``ConfigError`` (exit code 2) with the same message `run` prints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.config import Settings


async def check_online(settings: Settings) -> AsyncIterator[str]:
    from bot.service.runtime import discord_configured, slack_configured

    if slack_configured(settings):
        from bot.chat.slack import SlackOptions
        from bot.chat.slack_client import check_token, web_client

        options = SlackOptions.from_env(settings)
        if options.bot_token and not options.oauth:
            client = web_client(options.api_url, options.bot_token)
            data = await check_token(client)
            yield f"slack: token ok (team {data.get('team_id', '?')}, via {options.api_url})"
        else:
            yield "slack: OAuth mode, tokens are checked per workspace"
    if discord_configured(settings):
        from bot.chat.discord import DiscordOptions
        from bot.chat.discord_login import DEFAULT_API_BASE
        from bot.chat.discord_login import check_token as discord_check

        doptions = DiscordOptions.from_env(settings)
        await discord_check(doptions.token, doptions.api_base or DEFAULT_API_BASE)
        yield "discord: token ok"
