"""Fixtures shared by the chat adapter tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.chat.discord import DiscordOptions, build_discord_client
from bot.chat.discord_render import DiscordPublisher
from bot.service.core import Core
from tests.fakes.discord_fake import TOKEN, FakeDiscord
from tests.fakes.slack_api import ARTICLES


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
