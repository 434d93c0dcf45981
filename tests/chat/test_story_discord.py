"""Story drill-down on Discord: the "Sources (N)" button under each story of a briefing
and a digest, pressed as a real component interaction against the loopback Discord,
answered ephemerally at once, or deferred first when the core is slow; and
`/briefing-story n:<n>`.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.chat.discord import BriefbotClient, DiscordOptions, build_discord_client
from bot.chat.discord_render import DiscordPublisher
from bot.core.drilldown import GONE
from bot.core.models import Briefing, ChannelRef, IncomingCommand, Reply
from bot.delivery.outbox import Outbox
from bot.service.core import Core
from tests.chat.test_discord_client import REF, SEEDS, ask, bot, settings
from tests.fakes.discord_fake import (
    CHANNEL_ID,
    GUILD_ID,
    HUMAN,
    TOKEN,
    FakeDiscord,
    _message,
    running,
    slash,
)

__all__ = ["bot", "settings"]  # fixtures shared with the adapter tests

EPHEMERAL = 64


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row["components"]]


def press(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """The INTERACTION_CREATE Discord sends when a member presses a button of
    ``message`` (the body we posted, components included)."""
    interaction = slash("unused")
    posted = _message(CHANNEL_ID, message)
    posted["components"] = message.get("components") or []
    interaction.update(
        type=3,
        message=posted,
        data={"custom_id": custom_id, "component_type": 2},
        member={**interaction["member"], "user": HUMAN},
    )
    return interaction


async def answer_to(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any]:
    """The interaction's callback once it arrived (type 4: the answer; 5: a defer)."""
    await fake.inject(interaction)
    iid = interaction["id"]
    await fake.wait_until(lambda: any(c["interaction"] == iid for c in fake.callbacks))
    [callback] = [c for c in fake.callbacks if c["interaction"] == iid]
    return callback


async def test_briefing_buttons_answer_privately_with_every_source(
    fake: FakeDiscord, bot: BriefbotClient
) -> None:
    [followup] = await ask(fake, slash("briefing"))
    found = buttons(followup)
    assert [b["label"] for b in found] == ["Story 1 · Sources (1)", "Story 2 · Sources (1)"]
    assert all(b["type"] == 2 and b["style"] == 2 for b in found)
    assert all(b["custom_id"].startswith("briefbot:story:") for b in found)

    callback = await answer_to(fake, press(followup, found[0]["custom_id"]))
    assert callback["type"] == 4  # answered at once, no defer needed
    data = callback["data"]
    assert data["flags"] & EPHEMERAL
    assert data["allowed_mentions"] == {"parse": []}
    [embed] = data["embeds"]
    first = followup["embeds"][0]["title"]
    assert embed["title"] == f"Story 1: {first}"
    seed = next(s for s in SEEDS.values() if s["title"] == first)
    assert f"**{seed['source']}** — [{first}]({seed['url']})" in embed["description"]
    assert "**Sources (1)**" in embed["description"]


async def test_briefing_story_n_and_a_story_that_is_gone(
    fake: FakeDiscord, bot: BriefbotClient, core: Core
) -> None:
    [none_yet] = await ask(fake, slash("briefing-story", [{"name": "n", "type": 4, "value": 1}]))
    assert "no briefing in this channel yet" in none_yet["content"]
    [followup] = await ask(fake, slash("briefing"))
    command = slash("briefing-story", [{"name": "n", "type": 4, "value": 2}])
    [second] = await ask(fake, command)
    [defer] = [c for c in fake.callbacks if c["interaction"] == command["id"]]
    assert defer["type"] == 5 and defer["data"]["flags"] & EPHEMERAL  # answered privately
    assert second["embeds"][0]["title"] == "Story 2: " + followup["embeds"][1]["title"]

    # A button whose story is unknown here (another deployment's, or merged away) …
    forged = copy.deepcopy(followup)
    forged["components"][0]["components"][0]["custom_id"] = "briefbot:story:987654321"
    callback = await answer_to(fake, press(forged, "briefbot:story:987654321"))
    assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["content"] == GONE
    # … and one whose articles were pruned since the briefing: a clear answer, no error.
    await core.db.articles.prune(datetime.now(UTC) + timedelta(days=1))
    callback = await answer_to(fake, press(followup, buttons(followup)[0]["custom_id"]))
    assert callback["data"]["content"] == GONE


async def test_digest_buttons_are_answered_after_the_post(
    fake: FakeDiscord, bot: BriefbotClient, core: Core
) -> None:
    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref, exclude=seen, remember=True)

    outbox = Outbox(core.db, {"discord": DiscordPublisher(bot)}, briefing_for)
    assert (await outbox.deliver(REF, "slot-1")).status == "sent"
    [post] = [m for m in fake.messages if m["via"] == "channel"]
    found = buttons(post)
    assert len(found) == len(post["embeds"]) == 2
    callback = await answer_to(fake, press(post, found[1]["custom_id"]))
    assert callback["data"]["embeds"][0]["title"].startswith("Story 2: ")
    # The digest is the channel's last briefing: `/briefing-story n:2` is the same story.
    [text] = await ask(fake, slash("briefing-story", [{"name": "n", "type": 4, "value": 2}]))
    assert text["embeds"][0]["title"] == callback["data"]["embeds"][0]["title"]


class SlowRouter:
    """The real router, holding each story answer until the test lets it go."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.release = asyncio.Event()

    async def dispatch(self, cmd: IncomingCommand) -> Reply:
        return await self.core.router.dispatch(cmd)

    async def story(self, ref: ChannelRef, story_id: int) -> Reply:
        await self.release.wait()
        return await self.core.router.story(ref, story_id)


@pytest.fixture
async def slow(fake: FakeDiscord, core: Core) -> AsyncIterator[tuple[BriefbotClient, SlowRouter]]:
    await core.ingest_seeds()
    router = SlowRouter(core)
    options = DiscordOptions(
        token=TOKEN, guild_ids=(GUILD_ID,), guild_ready_timeout=0.05, story_defer_after=0.0
    )
    client = build_discord_client(router, options)
    assert isinstance(client, BriefbotClient)
    async with running(client):
        yield client, router


async def test_a_slow_answer_is_deferred_then_followed_up_privately(
    fake: FakeDiscord, slow: tuple[BriefbotClient, SlowRouter]
) -> None:
    _, router = slow
    [followup] = await ask(fake, slash("briefing"))
    interaction = press(followup, buttons(followup)[0]["custom_id"])
    callback = await answer_to(fake, interaction)
    assert callback["type"] == 5 and callback["data"]["flags"] & EPHEMERAL  # deferred first
    router.release.set()
    token = interaction["token"]
    await fake.wait_until(lambda: any(token in r.path for r in fake.calls("POST", "/webhooks/")))
    [answer] = [m for m in fake.messages if m.get("via") == "webhook" and m["ephemeral"]][-1:]
    assert answer["embeds"][0]["title"].startswith("Story 1: ")
