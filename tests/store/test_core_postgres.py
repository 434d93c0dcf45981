"""The whole core on PostgreSQL: the same seed → story → briefing path as on SQLite."""

from __future__ import annotations

from pathlib import Path

from bot.chat.console import ConsoleHarness
from bot.config import test_settings
from bot.service.core import open_core


async def test_seed_briefing_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    settings = test_settings(tmp_path, bot={"database_url": postgres_url})
    core = await open_core(settings)
    try:
        assert core.db.dialect == "postgresql"
        report = await core.ingest_seeds()
        assert report.stats.new == 1
        again = await core.ingest_seeds()
        assert again.stats.unchanged == 1 and again.stats.new == 0
        harness = ConsoleHarness(core.router)
        out = await harness.command("/briefing ukraine")
        assert "1. Fresh Ukraine talks to begin in the Middle East" in out
        topics = await harness.command("/briefing topics add energy")
        assert topics.startswith("Topics of this channel: energy")
    finally:
        await core.close()
