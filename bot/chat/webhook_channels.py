"""Webhook-only delivery: channels that are just an incoming-webhook URL from the env.

Each configured variable becomes a ``webhook`` channel with the digest schedule of the
``[webhooks]`` section; the outbox posts to it like to any other channel.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

import aiohttp

from bot.chat.webhooks import WebhookPublisher
from bot.config import WebhooksSection
from bot.core.models import Briefing, ChannelRef
from bot.core.ports import ChannelStore
from bot.core.schedule import parse_schedule
from bot.errors import ConfigError, DeliveryError


class WebhookChannels:
    """A ``Publisher`` for platform ``webhook``: one URL per channel (the env var name)."""

    platform = "webhook"

    def __init__(self, publishers: Mapping[str, WebhookPublisher]) -> None:
        self._publishers = dict(publishers)

    @property
    def channels(self) -> list[ChannelRef]:
        return [ChannelRef("webhook", name) for name in self._publishers]

    async def notify(self, ref: ChannelRef, text: str) -> None:
        publisher = self._publishers.get(ref.channel)
        if publisher is None:
            raise DeliveryError(f"webhook: no URL for channel {ref.channel}", permanent=True)
        await publisher.notify(ref, text)

    async def publish(self, ref: ChannelRef, briefing: Briefing, delivery_key: str) -> list[str]:
        publisher = self._publishers.get(ref.channel)
        if publisher is None:
            raise DeliveryError(f"webhook: no URL for channel {ref.channel}", permanent=True)
        return await publisher.publish(ref, briefing, delivery_key)


def webhook_channels(
    section: WebhooksSection, session: aiohttp.ClientSession, env: Mapping[str, str] | None = None
) -> WebhookChannels:
    env = os.environ if env is None else env
    publishers = {}
    for name in section.url_envs:
        url = env.get(name, "").strip()
        if not url:
            raise ConfigError(f"config: [webhooks] url_envs names {name}, which is not set")
        try:
            publishers[name] = WebhookPublisher(url, session)
        except DeliveryError as exc:
            raise ConfigError(f"config: [webhooks] {name}: {exc}") from None
    return WebhookChannels(publishers)


async def apply_schedule(
    channels: WebhookChannels, section: WebhooksSection, store: ChannelStore
) -> list[ChannelRef]:
    """Give every webhook channel the configured schedule, time zone and topics."""
    schedule = parse_schedule(section.schedule.split())
    for ref in channels.channels:
        current = await store.channel(ref)
        await store.save_channel(
            replace(
                current,
                schedule=schedule.cron,
                timezone=schedule.timezone or section.timezone,
                topics=tuple(section.topics),
            )
        )
    return channels.channels
