"""Webhook-only delivery: a channel that is just a URL from the environment gets the
scheduled digest, through the outbox, with no bot token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.chat.webhook_channels import apply_schedule, webhook_channels
from bot.config import WebhooksSection
from bot.core.models import Briefing, ChannelRef
from bot.delivery.outbox import Outbox
from bot.errors import ConfigError
from bot.service.core import Core
from bot.service.scheduler import Scheduler
from tests.support import discord_webhook


@pytest.fixture
async def hook_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    async with discord_webhook() as recorder:
        yield recorder


async def test_scheduled_digest_reaches_the_webhook(
    core: Core, hook_server: tuple[str, list[dict[str, Any]]]
) -> None:
    base, posts = hook_server
    await core.ingest_seeds()
    section = WebhooksSection(url_envs=["HOOK_NEWS"], schedule="daily 07:00", timezone="UTC")
    env = {"HOOK_NEWS": f"{base}/api/webhooks/1/secret-token"}
    async with aiohttp.ClientSession() as session:
        hooks = webhook_channels(section, session, env)
        assert "secret-token" not in repr(hooks._publishers["HOOK_NEWS"])
        refs = await apply_schedule(hooks, section, core.db.channels)
        assert refs == [ChannelRef("webhook", "HOOK_NEWS")]

        async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
            return await core.briefing_for(ref, exclude=seen)

        outbox = Outbox(core.db, {"webhook": hooks}, briefing_for)
        now = datetime.now(UTC).replace(hour=7, minute=5)
        if now > datetime.now(UTC):
            now -= timedelta(days=1)
        scheduler = Scheduler(outbox, clock=lambda: now)
        await scheduler.reconcile(await core.db.channels.scheduled())
    assert len(posts) == 1
    assert posts[0]["allowed_mentions"] == {"parse": []}
    assert "Fresh Ukraine talks" in posts[0]["embeds"][0]["title"]


def test_missing_webhook_env_is_a_config_error() -> None:
    section = WebhooksSection(url_envs=["HOOK_MISSING"])
    with pytest.raises(ConfigError, match="HOOK_MISSING, which is not set"):
        webhook_channels(section, None, {})  # type: ignore[arg-type]


def test_webhook_url_in_config_is_refused(tmp_path: Any) -> None:
    from bot.config import load_settings

    path = tmp_path / "briefbot.toml"
    path.write_text('[webhooks]\nurl_envs = ["https://discord.com/api/webhooks/1/x"]\n')
    with pytest.raises(
        ConfigError, match=r"\[webhooks\] url_envs holds environment variable names"
    ):
        load_settings(path)
