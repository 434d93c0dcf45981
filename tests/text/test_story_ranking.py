"""Ranking of stories for a briefing: the score and its explanation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.models import Article, Story
from bot.core.ranking import rank_stories, topic_share

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _story(story_id: int, title: str, sources: list[str], hours_ago: float) -> Story:
    when = NOW - timedelta(hours=hours_ago)
    articles = tuple(
        Article(id=story_id * 10 + i, source=src, title=title, summary="", published_at=when)
        for i, src in enumerate(sources)
    )
    return Story(story_id, title, "", when, when, articles)


def test_parts_explain_the_score() -> None:
    story = _story(1, "Ukraine grain deal extended", ["Reuters", "BBC", "AP", "AP"], 12.0)
    [(ranked, score, parts)] = rank_stories([story], NOW, topics=["ukraine", "cricket"])
    assert ranked is story
    assert parts["n_sources"] == 3
    assert parts["sources"] == pytest.approx(1 + math.log2(3))
    assert parts["recency"] == pytest.approx(0.5)  # one half-life old
    assert parts["topic"] == pytest.approx(1.25)  # one of two topics matched
    assert parts["source_weight"] == 1.0
    assert parts["age_hours"] == pytest.approx(12.0)
    multipliers = ("sources", "recency", "topic", "source_weight")
    assert score == pytest.approx(math.prod(parts[k] for k in multipliers))


def test_more_sources_fresher_and_on_topic_rank_higher() -> None:
    many = _story(1, "Storm hits coast", ["A", "B", "C"], 2.0)
    single = _story(2, "Storm hits coast", ["A"], 2.0)
    old = _story(3, "Storm hits coast", ["A", "B", "C"], 30.0)
    order = [s.id for s, _, _ in rank_stories([single, old, many], NOW)]
    assert order == [1, 2, 3]
    cricket = _story(4, "Cricket final tonight", ["A"], 2.0)
    first = rank_stories([single, cricket], NOW, topics=["cricket"])[0][0]
    assert first.id == 4


def test_source_weights_apply_case_insensitively() -> None:
    a = _story(1, "Budget vote", ["Tabloid"], 1.0)
    b = _story(2, "Budget vote", ["Wire"], 1.0)
    ranked = rank_stories([a, b], NOW, source_weights={"tabloid": 0.5, "Wire": 2.0})
    assert [s.id for s, _, _ in ranked] == [2, 1]
    assert ranked[1][2]["source_weight"] == 0.5


def test_ties_break_deterministically_and_topics_match_whole_words() -> None:
    a, b = _story(1, "Same", ["X"], 1.0), _story(2, "Same", ["X"], 1.0)
    assert [s.id for s, _, _ in rank_stories([a, b], NOW)] == [2, 1]
    assert [s.id for s, _, _ in rank_stories([b, a], NOW)] == [2, 1]
    story = _story(5, "Ukrainian exports rise", ["X"], 1.0)
    assert topic_share(story, ["ukraine"]) == 0.0
    assert topic_share(story, ["Ukrainian exports"]) == 1.0
    with pytest.raises(ValueError):
        rank_stories([a], NOW, half_life_hours=0)
