"""The seed article and related articles from other outlets become one story that lists
every source; an unrelated article stays a story of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.config import test_settings
from bot.service.core import open_core

REPO = Path(__file__).resolve().parents[1]


async def test_related_articles_group_into_one_story(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(REPO / "tests" / "data" / "related", folder)
    for seed in (REPO / "seeds").glob("*.txt"):
        shutil.copy(seed, folder / seed.name)
    core = await open_core(test_settings(tmp_path, sources={"seeds_dir": str(folder)}))
    try:
        report = await core.ingest_seeds()
        assert report.stats.new == 4
        briefing = await core.briefings.compose()
    finally:
        await core.close()
    assert briefing.story_count == 2
    top, other = briefing.items
    assert {s.name for s in top.sources} == {"seeds", "Wire Desk", "The Daily Ledger"}
    assert "Ukraine" in top.headline
    assert top.score_parts["n_sources"] == 3
    assert [s.name for s in other.sources] == ["Sports Page"]
    assert "penalty" in other.summary.lower()
