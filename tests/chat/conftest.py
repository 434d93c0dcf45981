"""Fixtures shared by the chat adapter tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord_fake import FakeDiscord


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A fake Discord (REST + gateway) on loopback, with discord.py pointed at it."""
    server = await FakeDiscord().start()
    server.patch(monkeypatch)
    try:
        yield server
    finally:
        await server.close()
