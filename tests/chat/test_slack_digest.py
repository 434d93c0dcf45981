"""Scheduled digests to Slack through the real outbox: claim → post → mark, once per slot,
with Slack's Retry-After honoured and the delivery key in the message metadata."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack_render import SlackPublisher
from bot.core.models import Briefing, ChannelRef
from bot.delivery.outbox import Outbox
from bot.service.core import Core
from tests.fakes.slack_api import EVIL, FakeSlack, check_blocks

TOKEN = "xoxb-digest"
REF = ChannelRef("slack", "CDIGEST", "T1")


async def test_digest_posts_once_per_slot_and_honours_retry_after(news_core: Core) -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await news_core.briefing_for(ref, exclude=seen)

    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
        outbox = Outbox(
            news_core.db,
            {"slack": SlackPublisher(client, post_interval=0)},
            briefing_for,
            sleep=sleep,
        )
        fake.fail_next("chat.postMessage", 429, retry_after=4)
        result = await outbox.deliver(REF, "2026-11-26T08:00")
        assert result.status == "sent"
        assert delays == [4.0]  # Slack's Retry-After, not the outbox's own backoff
        [post] = fake.posts()
        assert post.args["channel"] == "CDIGEST"
        assert check_blocks(post.args["blocks"]) is None
        assert result.message_ids == (fake.messages["CDIGEST"][0]["ts"],)
        payload = post.args["metadata"]["event_payload"]
        assert payload["delivery_key"] == Outbox.key(REF, "2026-11-26T08:00")
        text = str(post.args["blocks"])
        assert "grain corridor" in text and EVIL not in text

        again = await outbox.deliver(REF, "2026-11-26T08:00")
        assert again.status == "duplicate" and len(fake.posts()) == 1
