"""Fixtures shared by the chat adapter tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.discord import DiscordOptions, build_discord_client
from bot.chat.discord_render import DiscordPublisher
from bot.service.core import Core
from tests.fakes.discord_fake import TOKEN, FakeDiscord
from tests.fakes.slack_api import ARTICLES, FakeSlack

SLACK_TOKEN = "xoxb-chat-test"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A fake Discord (REST + gateway) on loopback, with discord.py pointed at it."""
    server = await FakeDiscord().start()
    server.patch(monkeypatch)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API on loopback with one workspace, T1, whose bot token is
    ``SLACK_TOKEN``."""
    async with FakeSlack() as server:
        server.add_workspace("T1", SLACK_TOKEN)
        yield server


def slack_web(slack: FakeSlack, **options: Any) -> AsyncWebClient:
    """A real Slack Web client for workspace T1 of ``slack``."""
    return AsyncWebClient(token=SLACK_TOKEN, base_url=slack.api_url, **options)


@pytest.fixture
async def news_core(core: Core) -> Core:
    """The wired core (SQLite, then PostgreSQL) with the Slack fake's sample articles."""
    await core.pipeline.ingest("test", ARTICLES)
    return core


Restart = Callable[[], Awaitable[DiscordPublisher]]


@pytest.fixture
async def restart(fake: FakeDiscord, core: Core) -> AsyncIterator[Restart]:
    """A new process's Discord publisher, logged in over REST: a killed process's client
    dies with it, request locks and all."""
    async with contextlib.AsyncExitStack() as stack:

        async def start() -> DiscordPublisher:
            client = build_discord_client(core.router, DiscordOptions(token=TOKEN))
            await stack.enter_async_context(client)
            await client.login(TOKEN)
            return DiscordPublisher(client)

        yield start
