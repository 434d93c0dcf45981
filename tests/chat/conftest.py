"""Fixtures shared by the chat adapter tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.service.core import Core
from tests.fakes.discord_fake import FakeDiscord
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
