"""`/briefing status` answers "why was nothing posted?" in the chat itself."""

from __future__ import annotations

import dataclasses

from bot.chat.console import ConsoleHarness
from bot.core.models import Briefing, ChannelRef, ChannelSettings
from bot.delivery.outbox import Outbox
from bot.errors import DeliveryError
from bot.service.core import Core

REF = ChannelRef("console", "newsroom")


class FlakyPublisher:
    platform = "console"

    def __init__(self) -> None:
        self.gone = False

    async def publish(self, ref: ChannelRef, briefing: Briefing, delivery_key: str) -> list[str]:
        if self.gone:
            raise DeliveryError("console: channel_not_found", channel_gone=True)
        return [f"{delivery_key}#1", f"{delivery_key}#2"]


async def test_status_shows_the_last_digests_the_next_one_and_failing_feeds(core: Core) -> None:
    harness = ConsoleHarness(core.router, channel="newsroom")
    assert "No schedule" in await harness.command("/briefing status")
    await harness.command("/briefing schedule weekdays 08:00 Europe/Berlin")
    await core.ingest_seeds()
    feed_id, _ = await core.db.feeds.add("https://example.org/broken.xml")
    await core.db.channels.subscribe(REF, feed_id)
    state = await core.db.feeds.by_id(feed_id)
    assert state is not None
    await core.db.feeds.record(
        dataclasses.replace(state, last_error="fetch: HTTP 404 not found", failure_count=3)
    )
    publisher = FlakyPublisher()

    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref)

    outbox = Outbox(core.db, {"console": publisher}, briefing_for)
    assert (await outbox.deliver(REF, "2026-12-03T07:00Z")).status == "sent"
    text = await harness.command("/briefing status")
    assert "weekdays at 08:00 (Europe/Berlin); next:" in text
    assert "• 2026-12-03T07:00Z: sent, 2 part(s)" in text
    assert "⚠ feed [1] https://example.org/broken.xml: fetch: HTTP 404 not found" in text
    assert "3 failures in a row" in text

    publisher.gone = True
    assert (await outbox.deliver(REF, "2026-12-04T07:00Z")).status == "dead"
    text = await harness.command("/briefing status")
    assert "is paused: console: channel_not_found" in text
    assert "• 2026-12-04T07:00Z: dead, 0 part(s)" in text
    assert text.index("2026-12-04T07:00Z") < text.index("2026-12-03T07:00Z")  # newest first
    # Setting the schedule again resumes it.
    await harness.command("/briefing schedule weekdays 08:00 Europe/Berlin")
    assert "paused" not in await harness.command("/briefing status")
    assert isinstance(await core.db.channels.channel(REF), ChannelSettings)


async def test_status_with_words_is_still_a_topic_search(core: Core) -> None:
    harness = ConsoleHarness(core.router, channel="newsroom")
    await core.ingest_seeds()
    text = await harness.command("/briefing status zzzunknown")
    assert "Digest status" not in text
