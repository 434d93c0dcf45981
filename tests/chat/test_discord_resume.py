"""A digest resumed after a crash and a long outage, past Discord's nonce window, is
not posted twice: the publisher finds the parts already in the channel by the delivery
marker in their footers and sends only the missing ones. Real discord.py REST client,
loopback fake that forgets nonces after its window, like Discord."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from bot.chat.discord_render import find_marker, render_briefing
from bot.core.models import Briefing, ChannelRef, ChannelSettings
from bot.delivery.outbox import Outbox
from bot.service.core import Core
from tests.chat.conftest import Restart
from tests.chat.test_discord_render import briefing, item
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, FakeDiscord

REF = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))
KEY = "discord:333:444:2026-12-04T08:00Z"
THIRTY_MINUTES = 30 * 60.0


class Clock:
    """The fake's clock: a test moves it past the nonce window."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(fake: FakeDiscord) -> Clock:
    tick = Clock()
    fake.clock = tick
    return tick


def posts(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.messages if m["via"] == "channel"]


def parts_posted(fake: FakeDiscord) -> list[int]:
    """The part number of every digest message in the channel, in posting order."""
    found = []
    for post in posts(fake):
        markers = [find_marker(e.get("footer", {}).get("text", "")) for e in post["embeds"]]
        found += [m[1] for m in markers if m is not None]
    return found


def three_part_digest() -> Briefing:
    digest = briefing([item(n) for n in range(25)])
    assert len(render_briefing(digest, KEY)) == 3
    return digest


async def crash_after_first_part(fake: FakeDiscord, publish: asyncio.Task[Any]) -> None:
    """Kill the publish right after Discord stored part 1, before the bot saw the answer."""
    landed = asyncio.Event()
    fake.on_post = lambda _post: landed.set()
    await asyncio.wait_for(landed.wait(), 10)
    publish.cancel()
    with pytest.raises(asyncio.CancelledError):
        await publish
    fake.on_post = None


async def test_the_fake_forgets_nonces_after_the_window_like_discord(
    fake: FakeDiscord, clock: Clock
) -> None:
    body = {"content": "hello", "nonce": "n-1", "enforce_nonce": True}
    url = f"{fake.base_url}/channels/{CHANNEL_ID}/messages"
    async with aiohttp.ClientSession() as session:
        ids = []
        for advance in (0.0, 60.0, THIRTY_MINUTES):
            clock.now += advance
            async with session.post(url, json=body) as response:
                ids.append((await response.json())["id"])
    assert ids[0] == ids[1]  # within the window: the first message again
    assert ids[2] != ids[0]  # past it: a second message
    assert len(posts(fake)) == 2


async def test_resume_after_thirty_minutes_sends_only_the_missing_parts(
    fake: FakeDiscord, clock: Clock, restart: Restart
) -> None:
    digest = three_part_digest()
    publish = asyncio.create_task((await restart()).publish(REF, digest, KEY))
    await crash_after_first_part(fake, publish)
    assert parts_posted(fake) == [1]

    clock.now += THIRTY_MINUTES  # the nonce of part 1 has expired
    publisher = await restart()
    ids = await publisher.publish(REF, digest, KEY)

    assert parts_posted(fake) == [1, 2, 3]
    assert len(ids) == len(set(ids)) == 3
    assert ids[0] == fake.history[str(CHANNEL_ID)][0]["id"]
    # And once more, as after a second crash before the delivery was marked: nothing.
    clock.now += THIRTY_MINUTES
    assert await publisher.publish(REF, digest, KEY) == ids
    assert parts_posted(fake) == [1, 2, 3]


async def test_another_delivery_in_the_channel_is_not_mistaken_for_this_one(
    fake: FakeDiscord, clock: Clock, restart: Restart
) -> None:
    digest = three_part_digest()
    publisher = await restart()
    await publisher.publish(REF, digest, KEY.replace("08:00", "07:00"))
    clock.now += THIRTY_MINUTES
    await publisher.publish(REF, digest, KEY)
    assert parts_posted(fake) == [1, 2, 3, 1, 2, 3]


async def test_without_history_access_only_the_nonce_guards_and_the_window_shows(
    fake: FakeDiscord, clock: Clock, restart: Restart
) -> None:
    """Read Message History denied: within the window the nonce still dedupes; past it
    the first part doubles. This is why the README asks for that permission."""
    digest = three_part_digest()
    publish = asyncio.create_task((await restart()).publish(REF, digest, KEY))
    await crash_after_first_part(fake, publish)
    publisher = await restart()
    fake.fail("/messages", 403, 50001, "Missing Access", times=2, method="GET")
    await publisher.publish(REF, digest, KEY)
    assert parts_posted(fake) == [1, 2, 3]  # within the window: the nonce held
    clock.now += THIRTY_MINUTES
    await publisher.publish(REF, digest, KEY)
    assert parts_posted(fake) == [1, 2, 3, 1, 2, 3]


async def test_the_outbox_resumes_the_frozen_briefing_not_a_new_one(
    fake: FakeDiscord, clock: Clock, restart: Restart, core: Core
) -> None:
    """Between the crash and the resume new stories arrived; the resumed delivery still
    sends the rest of the briefing it started, so the channel gets one coherent digest."""
    first = three_part_digest()
    later = replace(first, items=tuple(item(n, headline=f"Newer {n}") for n in range(25)))
    composed = [first, later]

    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return composed.pop(0)

    await core.db.channels.save_channel(ChannelSettings(REF, schedule="0 8 * * *"))
    outbox = Outbox(core.db, {"discord": await restart()}, briefing_for)
    deliver = asyncio.create_task(outbox.deliver(REF, "2026-12-04T08:00Z"))
    await crash_after_first_part(fake, deliver)
    (pending,) = await core.db.deliveries.unfinished()
    assert pending.status == "pending" and pending.snapshot

    clock.now += THIRTY_MINUTES
    outbox = Outbox(core.db, {"discord": await restart()}, briefing_for)
    (result,) = await outbox.resume(await core.db.channels.refs_by_id())

    assert result.status == "sent" and len(result.message_ids) == 3
    assert parts_posted(fake) == [1, 2, 3]
    titles = [e["title"] for post in posts(fake) for e in post["embeds"]]
    assert titles == [f"Story number {n}: talks resume in Geneva" for n in range(25)]
    assert len(composed) == 1  # the newer briefing was never composed for this slot
