"""`briefbot run` as wired for production, in-process: the runtime starts the Discord
adapter (against the loopback fake), the scheduler posts a digest that fell due while
the bot was down, and `/briefing` is answered — all on one event loop."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import test_settings
from bot.core.models import ChannelRef
from bot.service.runtime import run_bot
from bot.store.db import open_database
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord, opt, slash


async def test_run_bot_serves_discord_and_posts_the_missed_digest(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = test_settings(tmp_path, discord={"guild_ids": [str(GUILD_ID)]})
    # A channel whose daily digest was due an hour ago, while the bot was down.
    due = datetime.now(UTC) - timedelta(hours=1)
    db = await open_database(settings.database_url)
    ref = ChannelRef("discord", str(CHANNEL_ID), str(GUILD_ID))
    channel = await db.channels.channel(ref)
    await db.channels.save_channel(
        replace(channel, schedule=f"{due.minute} {due.hour} * * *", timezone="UTC")
    )
    await db.close()

    bot = asyncio.create_task(run_bot(settings))
    try:
        await asyncio.wait_for(
            fake.wait_until(lambda: any(m["via"] == "channel" for m in fake.messages)), 30
        )
        [digest] = [m for m in fake.messages if m["via"] == "channel"]
        assert digest["allowed_mentions"] == {"parse": []}
        assert "Fresh Ukraine talks" in digest["embeds"][0]["title"]
        assert digest["enforce_nonce"] is True  # a retry after a crash cannot double it

        interaction = slash("briefing", [opt("topic", "ukraine")])
        await fake.inject(interaction)
        await asyncio.wait_for(
            fake.wait_until(
                lambda: any(
                    interaction["token"] in r.path for r in fake.calls("POST", "/webhooks/")
                )
            ),
            30,
        )
        [reply] = [
            r.body for r in fake.calls("POST", "/webhooks/") if interaction["token"] in r.path
        ]
        assert "Fresh Ukraine talks" in reply["embeds"][0]["title"]
    finally:
        bot.cancel()
        await asyncio.gather(bot, return_exceptions=True)
