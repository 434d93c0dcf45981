"""Incremental story grouping on a small hand-made set (quality figures: bench/stories.py)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.text.grouping import StoryGrouper, _tokens

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# (title, text, hours after T0, source, event)
ARTICLES = [
    (
        "Senate passes $1.2 trillion infrastructure bill after months of talks",
        "The Senate on Tuesday passed a $1.2 trillion infrastructure bill with money for "
        "roads, bridges, broadband and the power grid, sending it to the House.",
        0.0,
        "Reuters",
        "infra",
    ),
    (
        "Powell says Fed will keep rates near zero as inflation cools",
        "Federal Reserve Chair Jerome Powell said the central bank will keep interest rates "
        "near zero, pointing to cooling inflation and a slow jobs recovery.",
        0.5,
        "Reuters",
        "fed",
    ),
    (
        "Bipartisan infrastructure deal clears Senate, heads to House",
        "A bipartisan infrastructure bill worth $1.2 trillion cleared the Senate in a 69-30 "
        "vote, funding bridges, roads, broadband internet and the electric grid.",
        1.0,
        "CNN",
        "infra",
    ),
    (
        "Wildfire forces thousands to flee in northern California",
        "A fast-moving wildfire in northern California forced thousands of residents to "
        "evacuate as firefighters battled strong winds and dry brush.",
        1.5,
        "AP",
        "fire",
    ),
    (
        "Democrats celebrate as Senate approves trillion-dollar roads and broadband package",
        "Senate Democrats and 19 Republicans approved the $1.2 trillion infrastructure "
        "package on Tuesday; the bill funds roads, bridges and broadband and goes to the House.",
        2.0,
        "Fox News",
        "infra",
    ),
    (
        "Fed chair Powell signals interest rates will stay low",
        "Jerome Powell, chair of the Federal Reserve, signalled that interest rates will stay "
        "near zero while inflation cools and the jobs market recovers.",
        3.0,
        "CNN",
        "fed",
    ),
]


def _group(grouper: StoryGrouper) -> dict[str, set[int]]:
    by_event: dict[str, set[int]] = {}
    for doc_id, (title, text, hours, source, event) in enumerate(ARTICLES):
        key = grouper.add(doc_id, title, text, T0 + timedelta(hours=hours), source)
        by_event.setdefault(event, set()).add(key)
    return by_event


def test_same_event_from_three_outlets_is_one_story_and_events_stay_apart() -> None:
    by_event = _group(StoryGrouper())
    assert all(len(keys) == 1 for keys in by_event.values()), by_event
    all_keys = [next(iter(k)) for k in by_event.values()]
    assert len(set(all_keys)) == len(by_event)


def test_story_keeps_members_sources_and_first_last_seen() -> None:
    grouper = StoryGrouper()
    _group(grouper)
    infra = next(s for s in grouper.stories() if 0 in s.doc_ids)
    assert infra.doc_ids == [0, 2, 4]
    assert infra.sources == ["Reuters", "CNN", "Fox News"]
    assert infra.first_seen == T0
    assert infra.last_updated == T0 + timedelta(hours=2)
    assert len(grouper) == 3


def test_deterministic_for_the_same_input_order() -> None:
    assert _group(StoryGrouper()) == _group(StoryGrouper())


def test_stories_outside_the_window_are_not_joined() -> None:
    grouper = StoryGrouper(window_hours=48)
    title, text, _, source, _ = ARTICLES[0]
    first = grouper.add(1, title, text, T0, source)
    later = grouper.add(2, ARTICLES[2][0], ARTICLES[2][1], T0 + timedelta(days=5), "CNN")
    soon = grouper.add(3, ARTICLES[4][0], ARTICLES[4][1], T0 + timedelta(hours=3), "Fox")
    assert later != first
    assert soon == first


def test_loaded_stories_are_joined_and_keys_never_reused() -> None:
    grouper = StoryGrouper()
    grouper.load(41, ARTICLES[0][0], ARTICLES[0][1], T0)
    grouper.load(57, ARTICLES[3][0], ARTICLES[3][1], T0)
    key = grouper.add(1, ARTICLES[2][0], ARTICLES[2][1], T0 + timedelta(hours=1), "CNN")
    assert key == 41
    fresh = grouper.add(2, ARTICLES[1][0], ARTICLES[1][1], T0 + timedelta(hours=1), "AP")
    assert fresh not in (41, 57)
    assert fresh > 57


def test_similarity_is_higher_within_a_story() -> None:
    grouper = StoryGrouper()
    key = grouper.add(0, ARTICLES[0][0], ARTICLES[0][1], T0, "Reuters")
    grouper.add(1, ARTICLES[1][0], ARTICLES[1][1], T0, "Reuters")
    same = grouper.similarity(key, ARTICLES[2][0], ARTICLES[2][1])
    other = grouper.similarity(key, ARTICLES[3][0], ARTICLES[3][1])
    assert same > other


def test_old_stories_are_pruned_and_the_index_stays_consistent() -> None:
    grouper = StoryGrouper(window_hours=48)
    by_event = _group(grouper)
    # The fire story was last updated at 1.5 h, infra at 2 h, fed at 3 h.
    assert grouper.prune(T0 + timedelta(hours=1.75)) == 1
    assert {s.doc_ids[0] for s in grouper.stories()} == {0, 1}
    later = T0 + timedelta(hours=4)
    fire = grouper.add(9, ARTICLES[3][0], ARTICLES[3][1], later, "BBC")
    infra = grouper.add(10, ARTICLES[2][0], ARTICLES[2][1], later, "BBC")
    assert fire not in by_event["fire"]
    assert infra in by_event["infra"]


def test_empty_text_starts_its_own_story_and_bad_settings_are_refused() -> None:
    grouper = StoryGrouper()
    assert grouper.add(1, "", "", T0, "x") != grouper.add(2, "", "", T0, "x")
    with pytest.raises(ValueError):
        StoryGrouper(threshold=0)
    with pytest.raises(ValueError):
        StoryGrouper(window_hours=0)


def test_whole_numbers_tell_recurring_reports_apart() -> None:
    grouper = StoryGrouper()
    key = grouper.add(
        0,
        "Consumer prices rise 4.2% from a year earlier",
        "Consumer prices rose 4.2 percent from a year earlier, the Labor Department said.",
        T0,
        "Reuters",
    )
    # Split into digits, 4.2 and 2.4 would be the same two tokens.
    same_month = grouper.similarity(key, "Inflation hits 4.2%", "Prices were up 4.2 percent.")
    other_month = grouper.similarity(key, "Inflation hits 2.4%", "Prices were up 2.4 percent.")
    assert same_month > other_month


def _pair_story_keys(first_source: str, second_source: str, hours: float, margin: float) -> bool:
    """Whether ARTICLES[2] joins ARTICLES[0]'s story with the threshold ``margin`` below
    their plain score."""
    probe = StoryGrouper()
    key = probe.add(0, ARTICLES[0][0], ARTICLES[0][1], T0, "X")
    score = probe.similarity(key, ARTICLES[2][0], ARTICLES[2][1])
    grouper = StoryGrouper(threshold=score - margin)
    first = grouper.add(0, ARTICLES[0][0], ARTICLES[0][1], T0, first_source)
    later = T0 + timedelta(hours=hours)
    return grouper.add(1, ARTICLES[2][0], ARTICLES[2][1], later, second_source) == first


def test_same_outlet_within_hours_needs_a_stronger_match() -> None:
    # A match a little above the threshold joins from another outlet...
    assert _pair_story_keys("Reuters", "CNN", hours=1, margin=0.04)
    # ...but not from the same outlet an hour later (one article per outlet per event)...
    assert not _pair_story_keys("Reuters", "Reuters", hours=1, margin=0.04)
    # ...while a day later it is a follow-up and joins; a much stronger match always does.
    assert _pair_story_keys("Reuters", "Reuters", hours=24, margin=0.04)
    assert _pair_story_keys("Reuters", "Reuters", hours=1, margin=0.2)


def test_headline_stories_merge_and_keys_resolve() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.text.grouping import StoryGrouper

    g = StoryGrouper()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    heads = [
        "Malaysia Airlines flight MH370 search widens",
        "MH370 search: Malaysia Airlines jet missing",
        "Missing Malaysia Airlines jet: new search area",
        "Malaysia Airlines MH370 families wait for news",
        "Bachelor finale: Juan Pablo picks Nikki",
        "Juan Pablo Bachelor finale recap",
    ]
    keys = [g.add(i, h, "", t0 + timedelta(minutes=i), f"src{i}") for i, h in enumerate(heads)]
    g.merge()
    resolved = [g.resolve(k) for k in keys]
    assert len(set(resolved[:4])) == 1
    assert len(set(resolved[4:])) == 1
    assert resolved[0] != resolved[4]
    assert len(g) == len(set(resolved))


def test_merge_leaves_unrelated_full_article_stories_apart() -> None:
    from datetime import UTC, datetime

    from bot.text.grouping import StoryGrouper

    g = StoryGrouper()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    body = " ".join(f"word{i} detail{i} figure{i}" for i in range(12))
    g.add(1, "Council approves budget", "The city council approved the budget. " + body, t0, "a")
    g.add(2, "Council budget vote", "Budget vote council members " + body[::-1], t0, "b")
    before = len(g)
    assert g.merge() == 0
    assert len(g) == before


def _filler(prefix: str, n: int = 24) -> str:
    """``n`` distinct made-up words: enough features to make a full article."""
    return " ".join(f"{prefix}{i}x" for i in range(n))


def test_names_in_running_text_weigh_more_than_plain_words() -> None:
    story = "Residents said the mayor, Alice Hart, opened the bridge after long repairs today."
    probe = "Commuters thanked Hart at the station and praised the quick work on it."

    def score(lower: bool) -> float:
        g = StoryGrouper()
        fix = str.lower if lower else str
        key = g.add(0, "", fix(story), T0, "a")
        return g.similarity(key, "", fix(probe))

    assert score(lower=False) > score(lower=True)


def test_title_case_headlines_get_no_name_weight() -> None:
    headline = "Fed Official Says Weak Data Caused By Weather, Not Slowing Economy"
    g = StoryGrouper()
    key = g.add(0, headline, "", T0, "a")
    assert g.similarity(key, headline.lower(), "") == pytest.approx(1.0)


def test_observed_corpus_lowers_the_weight_of_common_words() -> None:
    story, probe = "Harbour council votes on ferries", "Harbour traffic slows in fog"
    fresh = StoryGrouper()
    key = fresh.add(0, story, "", T0, "a")
    seeded = StoryGrouper()
    for i in range(200):
        seeded.observe(f"Harbour note {i}", "")
    assert seeded.documents == 200
    key2 = seeded.add(0, story, "", T0, "a")
    assert seeded.similarity(key2, probe, "") < fresh.similarity(key, probe, "")
    assert seeded.documents == 201


def test_an_article_close_to_several_stories_needs_a_clear_margin() -> None:
    shared = _filler("s", 12)
    first, second = f"{shared} {_filler('a')}", f"{shared} {_filler('b')}"
    probe = f"{shared} {_filler('a', 6)} {_filler('b', 4)}"
    scout = StoryGrouper()
    a = scout.add(0, "", first, T0, "x")
    rival = scout.similarity(scout.add(1, "", second, T0, "y"), "", probe)
    own = scout.similarity(a, "", probe)
    assert 0 < rival < own
    # A threshold just below the probe's score: it joins when its story stands alone...
    threshold = own - 0.01 * rival
    alone = StoryGrouper(threshold=threshold)
    key = alone.add(0, "", first, T0, "x")
    alone.observe("", second)  # the same term weights as in the crowded run
    assert alone.add(2, "", probe, T0, "z") == key
    # ...and starts its own story when a second, similar story is open too.
    crowded = StoryGrouper(threshold=threshold)
    key = crowded.add(0, "", first, T0, "x")
    crowded.add(1, "", second, T0, "y")
    assert crowded.add(2, "", probe, T0, "z") not in (key, key + 1)


def test_a_story_cannot_drift_away_from_its_first_article() -> None:
    g = StoryGrouper(threshold=0.01)
    first = g.add(0, "", f"{_filler('p')} {_filler('q')}", T0, "a")
    assert g.add(1, "", f"{_filler('q')} {_filler('r', 6)}", T0, "b") == first
    # Shares words with the second member only: a walk across the topic, not the event.
    walk = f"{_filler('r', 6)} {_filler('r', 6)} {_filler('t', 20)}"
    assert g.similarity(first, "", walk) > 0.01
    assert g.add(2, "", walk, T0, "c") != first


def test_pruning_forgets_merges_into_pruned_stories() -> None:
    grouper = StoryGrouper(window_hours=48)
    old = grouper.add(0, ARTICLES[0][0], ARTICLES[0][1], T0, "Reuters")
    new = grouper.add(1, ARTICLES[1][0], ARTICLES[1][1], T0 + timedelta(hours=200), "Reuters")
    # As merge() leaves them: a key merged into each story, one through a chain.
    grouper._merged.update({90: old, 91: new, 92: 91})
    assert grouper.prune(T0 + timedelta(hours=100)) == 1
    assert grouper._merged == {91: new, 92: 91}
    assert grouper.resolve(92) == new


def test_stories_that_are_each_others_nearest_merge_unless_they_share_an_outlet() -> None:
    def merged(second_source: str) -> tuple[StoryGrouper, list[int]]:
        g = StoryGrouper(threshold=0.9)  # single pass keeps every article apart
        sources = ["Reuters", "AP", second_source]
        keys = [
            g.add(i, ARTICLES[n][0], ARTICLES[n][1], T0, src)
            for i, (n, src) in enumerate(zip((0, 1, 2), sources, strict=True))
        ]
        assert len(set(keys)) == 3
        g.merge()
        return g, [g.resolve(k) for k in keys]

    g, (infra, fed, infra2) = merged("CNN")
    assert infra == infra2 != fed  # the two infrastructure reports are one story now
    assert len(g) == 2
    _, (infra, fed, infra2) = merged("Reuters")  # one outlet, one article per event
    assert len({infra, fed, infra2}) == 3


def test_a_story_in_a_crowded_topic_needs_a_closer_match() -> None:
    shared = _filler("s", 12)
    first = f"{shared} {_filler('a')}"
    probe = f"{_filler('a')} {_filler('p', 8)}"
    # Neighbours share words with the first story only, never with the probe: they
    # add no rival for the probe, but show that the story sits in a crowded topic.
    neighbours = [f"{shared} {_filler(f'n{k}y', 4)}" for k in range(6)]
    scout = StoryGrouper()
    own = scout.similarity(scout.add(0, "", first, T0, "x"), "", probe)
    threshold = own - 0.01

    def joins(crowded: bool) -> bool:
        g = StoryGrouper(threshold=threshold)
        key = g.add(0, "", first, T0, "x")
        for k, text in enumerate(neighbours, start=1):
            if crowded:
                assert g.add(k, "", text, T0, f"n{k}") != key  # scored, not joined
            else:
                g.observe("", text)  # the same term weights, no neighbours
        return g.add(99, "", probe, T0, "z") == key

    assert joins(crowded=False)
    assert not joins(crowded=True)


def test_split_tokenizer_gives_the_regex_tokens() -> None:
    # The split shortcut must agree with the one regex it stands in for, including
    # where it hands over: numbers with separators, letters running into digits,
    # non-ASCII digits and letters, punctuation of every kind.
    regex = re.compile(r"\d+(?:[.,]\d+)*[A-Za-z]*|[A-Za-z][A-Za-z0-9]*")
    texts = [
        "Jobless claims fell to 498,000 and the rate to 5.4% on Thursday.",
        "“Newsom’s” plan: 4x4 trucks, covid19, 5G8 masts, 19th-century U.S. laws",
        "café naïve résumé ٣ apples, x² and 12ab34cd; under_score 5.G 1,2,3 .5 5.",
        "",
    ]
    rng = random.Random(3)
    alphabet = "aZ09.,_ -\t\n’é\u00a0٣१²x5G"
    texts += ["".join(rng.choice(alphabet) for _ in range(40)) for _ in range(2000)]
    for text in texts:
        assert _tokens(text) == regex.findall(text), text
