"""Webhook delivery (no bot token) to a fake Discord channel webhook and a fake Slack one."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.chat.webhooks import WebhookPublisher, redact, webhook_kind
from bot.core.models import ChannelRef
from bot.errors import DeliveryError
from tests.chat.test_discord_render import briefing, item
from tests.fakes.discord_fake import FakeDiscord, message_problems

REF = ChannelRef("webhook", "digest")
SLACK_SECRET = "T000/B000/XXXXsecretXXXX"


@dataclass
class FakeSlackWebhook:
    """A Slack incoming webhook: answers ``ok`` (text/plain), checks Block Kit limits."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    limited: int = 0
    retry_after: str = "2"
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.limited:
            self.limited -= 1
            self.statuses.append(429)
            return web.Response(
                status=429, text="rate_limited", headers={"Retry-After": self.retry_after}
            )
        blocks = body.get("blocks", [])
        bad = len(blocks) > 50 or any(
            len(b.get("text", {}).get("text", "")) > 3000 for b in blocks if b["type"] == "section"
        )
        if bad or not (body.get("text") or blocks):
            self.statuses.append(400)
            return web.Response(status=400, text="invalid_blocks")
        self.posts.append(body)
        self.statuses.append(200)
        return web.Response(text="ok")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{SLACK_SECRET}"


@pytest.fixture
async def slack_hook() -> AsyncIterator[FakeSlackWebhook]:
    hook = FakeSlackWebhook()
    app = web.Application()
    app.router.add_post("/services/{path:.*}", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield hook
    finally:
        await runner.cleanup()


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def our_log(caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged except the fake servers' own access log."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_webhook_kind_by_host_or_path() -> None:
    assert webhook_kind("https://discord.com/api/webhooks/1/abc") == "discord"
    assert webhook_kind("https://hooks.slack.com/services/T/B/X") == "slack"
    assert webhook_kind("http://127.0.0.1:9/api/webhooks/1/abc") == "discord"
    with pytest.raises(DeliveryError) as caught:
        webhook_kind("https://example.com/hook?token=abc")
    assert caught.value.permanent and "abc" not in str(caught.value)
    assert redact("https://discord.com/api/webhooks/1/secret") == "https://discord.com/…"


async def test_discord_webhook_gets_valid_embed_messages_with_mentions_off(
    discord_fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    stories = [item(n, summary="A long summary sentence. " * 70, sources=8) for n in range(30)]
    publisher = WebhookPublisher(discord_fake.webhook_url(), session)
    ids = await publisher.publish(REF, briefing(stories), "webhook:slot-1")

    posts = [m for m in discord_fake.messages if m["via"] == "webhook"]
    assert discord_fake.rejected == []
    assert len(ids) == len(posts) > 3 and all(i.isdigit() for i in ids)
    assert sum(len(p["embeds"]) for p in posts) == 30
    for post in posts:
        assert message_problems(post) == {}
        assert post["allowed_mentions"] == {"parse": []}
    assert all(r.query.get("wait") == "true" for r in discord_fake.calls("POST", "/webhooks/"))


async def test_discord_webhook_429_is_retried_after_the_advertised_wait(
    discord_fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    discord_fake.rate_limit("/api/webhooks/", retry_after=0.25)
    sleep = RecordingSleep()
    publisher = WebhookPublisher(discord_fake.webhook_url(), session, sleep=sleep)
    ids = await publisher.publish(REF, briefing([item(1)]), "webhook:slot-2")
    assert sleep.waits == [0.25]  # the JSON body's precise value, not the rounded header
    assert [r.status for r in discord_fake.calls("POST", "/webhooks/")] == [429, 200]
    assert len(ids) == 1


async def test_discord_webhook_gives_up_after_bounded_retries(
    discord_fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    discord_fake.rate_limit("/api/webhooks/", retry_after=0.01, times=5)
    sleep = RecordingSleep()
    publisher = WebhookPublisher(discord_fake.webhook_url(), session, sleep=sleep, max_attempts=3)
    with pytest.raises(DeliveryError) as caught:
        await publisher.publish(REF, briefing([item(1)]), "webhook:slot-3")
    assert caught.value.retry_after == 0.01 and not caught.value.permanent
    assert len(sleep.waits) == 2
    assert len(discord_fake.calls("POST", "/webhooks/")) == 3


async def test_deleted_discord_webhook_is_permanent_and_the_token_stays_secret(
    discord_fake: FakeDiscord, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    discord_fake.fail("/api/webhooks/", 404, 10015, "Unknown Webhook")
    url = discord_fake.webhook_url(token="very-secret-webhook-token")
    publisher = WebhookPublisher(url, session)
    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as caught:
        await publisher.publish(REF, briefing([item(1)]), "webhook:slot-4")
    assert caught.value.permanent and "10015" in str(caught.value)
    assert "very-secret" not in str(caught.value) and "very-secret" not in repr(publisher)
    assert "very-secret" not in our_log(caplog)


async def test_slack_incoming_webhook_gets_block_kit_messages(
    slack_hook: FakeSlackWebhook, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = item(0, headline="<!channel> & <https://evil.example|click>")
    stories = [hostile] + [item(n, summary="Long summary. " * 100) for n in range(1, 60)]
    publisher = WebhookPublisher(slack_hook.url, session)
    assert publisher.kind == "slack"
    with caplog.at_level(logging.DEBUG):
        ids = await publisher.publish(REF, briefing(stories), "webhook:slot-5")
    assert len(ids) == len(slack_hook.posts) > 1
    text = json.dumps(slack_hook.posts)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    for n in range(60):
        assert f"news.example/{n}" in text  # every story made it
    assert "webhook: posted briefing kind=slack" in our_log(caplog)
    assert "secret" not in our_log(caplog)


async def test_slack_webhook_429_honours_retry_after_header(
    slack_hook: FakeSlackWebhook, session: aiohttp.ClientSession
) -> None:
    slack_hook.limited = 1
    sleep = RecordingSleep()
    publisher = WebhookPublisher(slack_hook.url, session, sleep=sleep)
    await publisher.publish(REF, briefing([item(1)]), "webhook:slot-6")
    assert sleep.waits == [2.0]
    assert slack_hook.statuses == [429, 200]


async def test_slack_webhook_rejection_is_permanent(
    slack_hook: FakeSlackWebhook, session: aiohttp.ClientSession
) -> None:
    huge = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 4000}}]
    publisher = WebhookPublisher(slack_hook.url, session)
    with pytest.raises(DeliveryError, match="invalid_blocks") as caught:
        await publisher._post({"text": "x", "blocks": huge}, 0)
    assert caught.value.permanent


async def test_feed_health_notices_through_webhooks_ping_no_one(
    discord_fake: FakeDiscord, slack_hook: FakeSlackWebhook, session: aiohttp.ClientSession
) -> None:
    hostile = "⚠ Feed [1] @everyone <@&42> <!channel> *bold* has been failing"
    await WebhookPublisher(discord_fake.webhook_url(), session).notify(REF, hostile)
    (post,) = [m for m in discord_fake.messages if m["via"] == "webhook"]
    assert post["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in post["content"] and "<@&42>" not in post["content"]
    assert "\\*bold\\*" in post["content"]
    slack_url = f"http://127.0.0.1:{slack_hook.port}/services/T1/B1/secret"
    await WebhookPublisher(slack_url, session).notify(REF, hostile)
    assert "&lt;!channel&gt;" in json.dumps(slack_hook.posts[-1])
    assert "<!channel>" not in json.dumps(slack_hook.posts[-1])
