"""PROVISIONAL (lead's stand-in until the text-quality helper writes the real ranking)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.core.models import Story


def rank_stories(
    stories: Sequence[Story],
    now: datetime,
    *,
    topics: Sequence[str] = (),
    half_life_hours: float = 12.0,
    source_weights: Mapping[str, float] | None = None,
) -> list[tuple[Story, float, dict[str, float]]]:
    out = []
    for s in stories:
        age_h = max(0.0, (now - max(a.published_at for a in s.articles)).total_seconds() / 3600)
        recency = 0.5 ** (age_h / half_life_hours)
        sources = math.log2(1 + len(s.sources))
        parts = {"sources": sources, "recency": recency}
        out.append((s, sources * recency, parts))
    out.sort(key=lambda t: (-t[1], -t[0].id))
    return out
