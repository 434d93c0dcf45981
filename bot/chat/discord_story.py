"""Discord story drill-down: the "Sources (N)" button under each story of a briefing.

A button's custom_id names its story (``briefbot:story:<id>``); the client registers a
dynamic item for that pattern, so a press is answered after a restart too and no view
is kept per message. The answer is ephemeral. A quick answer is sent at once; when the
core takes longer than ``defer_after`` seconds the press is deferred first (Discord
gives up after 3 s) and answered with a follow-up. A story that is gone gets the core's
clear sentence.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Protocol

import discord

from bot.chat.discord_render import render_story, render_text
from bot.core.models import ChannelRef, Reply

log = logging.getLogger(__name__)

TEMPLATE = r"briefbot:story:(?P<id>[0-9]{1,19})"


class StoryRouter(Protocol):
    """What a press needs from the core: ``CommandRouter.story`` (never raises)."""

    async def story(self, ref: ChannelRef, story_id: int) -> Reply: ...


def reply_kwargs(reply: Reply) -> dict[str, Any]:
    """A drill-down reply as send/follow-up arguments: one embed, or text."""
    if reply.story is not None:
        return {"embeds": render_story(reply.story).discord_embeds()}
    return {"content": render_text(reply.text)[0]}


def story_button_type(router: StoryRouter, defer_after: float = 1.5) -> type[Any]:
    """The dynamic item class to register with ``client.add_dynamic_items``."""

    class StoryButton(
        discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
        template=TEMPLATE,
    ):
        def __init__(self, story_id: int) -> None:
            super().__init__(discord.ui.Button(custom_id=f"briefbot:story:{story_id}"))
            self.story_id = story_id

        @classmethod
        async def from_custom_id(
            cls,
            interaction: discord.Interaction,
            item: discord.ui.Item[Any],
            match: re.Match[str],
        ) -> StoryButton:
            return cls(int(match["id"]))

        async def callback(self, interaction: discord.Interaction) -> None:
            await answer_press(interaction, router, self.story_id, defer_after)

    return StoryButton


async def answer_press(
    interaction: discord.Interaction, router: StoryRouter, story_id: int, defer_after: float
) -> None:
    """Answer a press ephemerally; defer first when the core is slow."""
    ref = ChannelRef("discord", str(interaction.channel_id or ""), str(interaction.guild_id or ""))
    task = asyncio.ensure_future(router.story(ref, story_id))
    done, _ = await asyncio.wait({task}, timeout=defer_after)
    none = discord.AllowedMentions.none()
    try:
        if task in done:
            kwargs = reply_kwargs(task.result())
            await interaction.response.send_message(ephemeral=True, allowed_mentions=none, **kwargs)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        kwargs = reply_kwargs(await task)
        await interaction.followup.send(ephemeral=True, allowed_mentions=none, **kwargs)
    except discord.NotFound as exc:
        task.cancel()
        msg = "discord: story press %s expired before it was answered (code=%s); dropped"
        log.warning(msg, interaction.id, exc.code)
    except discord.HTTPException as exc:
        task.cancel()
        msg = "discord: could not answer story press %s (status=%s code=%s)"
        log.warning(msg, interaction.id, exc.status, exc.code)


__all__ = ["TEMPLATE", "answer_press", "reply_kwargs", "story_button_type"]
