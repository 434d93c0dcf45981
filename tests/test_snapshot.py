"""A delivery's frozen briefing comes back exactly as it went in, late note and opted-in
mention included, so a resumed digest renders the same parts as the first attempt."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core import snapshot
from bot.core.models import Mention
from tests.chat.test_discord_render import briefing, item


def test_a_briefing_survives_the_round_trip() -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    original = replace(
        briefing([item(n, headline=f"«Headline» {n} <!channel>") for n in range(4)]),
        generated_at=datetime(2026, 12, 4, 10, 25, tzinfo=kyiv),
        late_since=datetime(2026, 12, 4, 8, 0, tzinfo=UTC),
        mention=Mention("role", "987", "@editors"),
        topic="energy",
    )
    copy = snapshot.loads(snapshot.dumps(original))
    assert copy == original
    assert copy.generated_at.utcoffset() == timedelta(hours=2)
    assert copy.late_note.startswith("Late: this digest was due at 10:00 (04 Dec)")


def test_an_on_time_briefing_has_no_late_note() -> None:
    original = briefing([item(1)])
    copy = snapshot.loads(snapshot.dumps(original))
    assert copy == original and copy.late_note == "" and copy.mention is None
