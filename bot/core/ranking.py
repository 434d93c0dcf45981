"""Which stories lead a briefing, and why.

A story's score is the product of four parts, each near 1 for an ordinary story so
that they read as multipliers in ``--format json``:

- ``sources``: 1 + log2(distinct sources). Five outlets on one event matter more
  than one, with diminishing returns so a wire story syndicated everywhere does
  not bury everything else.
- ``recency``: 0.5 ** (age / half-life), age measured from the story's newest article.
- ``topic``: 1 + 0.5 × share of the channel's topics found in the story's headline,
  summary or member titles (1 when the channel has no topics).
- ``source_weight``: mean configured weight of the story's distinct sources
  (unknown sources weigh 1; names match case-insensitively).

Stdlib only (this is core). Ties break on the newer story, then the higher id, so
the order is deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.core.models import Story

__all__ = ["rank_stories", "story_age_hours", "topic_share"]

_TOPIC_BONUS = 0.5
_WORD = re.compile(r"\w+")


def story_age_hours(story: Story, now: datetime) -> float:
    """Hours since the story's newest article (0 for articles dated in the future)."""
    newest = max((a.published_at for a in story.articles), default=story.last_updated)
    return max(0.0, (now - newest).total_seconds() / 3600.0)


def topic_share(story: Story, topics: Sequence[str]) -> float:
    """Share of ``topics`` (words or phrases) that occur as whole words in the story."""
    wanted = [t.strip().casefold() for t in topics if t.strip()]
    if not wanted:
        return 0.0
    text = " ".join([story.title, story.summary, *(a.title for a in story.articles)])
    padded = " " + " ".join(_WORD.findall(text.casefold())) + " "
    hits = sum(1 for t in wanted if f" {' '.join(_WORD.findall(t))} " in padded)
    return hits / len(wanted)


def _source_weight(story: Story, weights: Mapping[str, float] | None) -> float:
    sources = story.sources
    if not weights or not sources:
        return 1.0
    folded = {name.casefold(): w for name, w in weights.items()}
    values = [weights.get(s, folded.get(s.casefold(), 1.0)) for s in sources]
    return sum(values) / len(values)


def rank_stories(
    stories: Sequence[Story],
    now: datetime,
    *,
    topics: Sequence[str] = (),
    half_life_hours: float = 12.0,
    source_weights: Mapping[str, float] | None = None,
) -> list[tuple[Story, float, dict[str, float]]]:
    """Stories best first, each with its score and the parts that made it.

    The parts dict has ``sources``, ``recency``, ``topic`` and ``source_weight`` (the
    multipliers) plus ``n_sources`` and ``age_hours`` for people reading the JSON.
    """
    if half_life_hours <= 0:
        raise ValueError("ranking: half_life_hours must be > 0")
    ranked: list[tuple[Story, float, dict[str, float]]] = []
    for story in stories:
        n_sources = len(story.sources)
        age = story_age_hours(story, now)
        parts = {
            "sources": 1.0 + math.log2(max(n_sources, 1)),
            "recency": 0.5 ** (age / half_life_hours),
            "topic": 1.0 + _TOPIC_BONUS * topic_share(story, topics),
            "source_weight": _source_weight(story, source_weights),
        }
        score = math.prod(parts.values())
        parts["n_sources"] = float(n_sources)
        parts["age_hours"] = round(age, 3)
        ranked.append((story, score, parts))
    ranked.sort(key=lambda item: (-item[1], -item[0].last_updated.timestamp(), -item[0].id))
    return ranked
