"""Story summaries across outlets: no repeats, budgets, a member's headline."""

from __future__ import annotations

from bot.text.sentences import split_sentences
from bot.text.story_summary import summarize_story

MEMBERS = [
    (
        "Reuters",
        "Senate passes $1.2 trillion infrastructure bill",
        "The Senate on Tuesday passed a $1.2 trillion infrastructure bill. "
        "The bill funds roads, bridges and broadband. It now goes to the House.",
    ),
    (
        "CNN",
        "Bipartisan infrastructure bill clears the Senate",
        "The Senate on Tuesday passed a $1.2 trillion infrastructure bill. "
        "Nineteen Republicans joined Democrats in the 69-30 vote. "
        "The bill funds roads, bridges and broadband.",
    ),
    (
        "Fox News",
        "Senate Republicans help pass Biden's $1.2 trillion infrastructure plan in 69-30 vote",
        "The Senate on Tuesday passed the $1.2 trillion infrastructure bill in a 69-30 vote. "
        "Critics say the plan adds to the deficit.",
    ),
]


def test_no_sentence_is_repeated_across_outlets() -> None:
    headline, summary = summarize_story(MEMBERS)
    sentences = split_sentences(summary)
    assert 1 <= len(sentences) <= 3
    assert len({s.casefold() for s in sentences}) == len(sentences)
    assert sum("passed" in s for s in sentences) == 1
    assert headline in {title for _, title, _ in MEMBERS}


def test_budgets_are_respected() -> None:
    _, summary = summarize_story(MEMBERS, max_sentences=1, max_chars=90)
    assert len(split_sentences(summary)) == 1
    assert len(summary) <= 90


def test_tiny_budget_cuts_one_sentence_at_a_word() -> None:
    _, summary = summarize_story(MEMBERS, max_chars=20)
    assert summary.endswith("…")
    assert len(summary) <= 20


def test_sentences_come_from_the_members() -> None:
    _, summary = summarize_story(MEMBERS)
    pool = {s for _, _, body in MEMBERS for s in split_sentences(body)}
    assert set(split_sentences(summary)) <= pool


def test_deterministic_single_member_and_empty() -> None:
    assert summarize_story(MEMBERS) == summarize_story(MEMBERS)
    title, body = MEMBERS[0][1], MEMBERS[0][2]
    headline, summary = summarize_story([("Reuters", title, body)])
    assert headline == title
    assert summary.startswith("The Senate on Tuesday passed")
    assert summarize_story([]) == ("", "")
    assert summarize_story([("x", "Only a title", "")]) == ("Only a title", "")


def test_member_without_body_text_does_not_break_the_story() -> None:
    headline, summary = summarize_story(
        [
            ("A", "Dam bursts after storm", "The dam burst after a week of heavy rain."),
            ("B", "Dam bursts", ""),
            ("C", "Storm breaks dam", "Heavy rain broke the dam on Tuesday night."),
        ]
    )
    assert headline and "dam" in summary.lower()


def test_facts_several_outlets_report_beat_one_outlets_anecdote() -> None:
    members = [
        (
            "A",
            "Town floods after levee fails",
            "Maria Lopez watched brown water creep across her kitchen floor at dawn. "
            "The levee on the Red River failed on Sunday, flooding the town of Elm Grove.",
        ),
        (
            "B",
            "Red River levee fails",
            "The levee on the Red River failed on Sunday and flooded Elm Grove. "
            "The governor declared an emergency.",
        ),
        (
            "C",
            "Elm Grove flooded",
            "Elm Grove flooded on Sunday after a Red River levee failed. "
            "The governor declared a state of emergency.",
        ),
    ]
    _, summary = summarize_story(members, max_sentences=2)
    assert "Maria Lopez" not in summary
    assert "levee" in summary and "governor" in summary


def test_leads_come_first() -> None:
    members = [
        ("A", "Dam bursts after storm", "The dam burst on Tuesday. Rain fell for a week."),
        ("B", "Storm breaks dam", "Heavy rain broke the dam on Tuesday. Towns were evacuated."),
    ]
    _, summary = summarize_story(members, max_sentences=3)
    leads = {split_sentences(body)[0] for _, _, body in members}
    picked = split_sentences(summary)
    assert [s in leads for s in picked] == sorted((s in leads for s in picked), reverse=True)


def test_many_members_and_a_long_budget_keep_the_rules() -> None:
    members = [
        (f"Outlet {k}", f"{title} ({k})", body) for k in range(8) for _, title, body in MEMBERS
    ]
    _, summary = summarize_story(members, max_sentences=6, max_chars=1500)
    sentences = split_sentences(summary)
    assert 1 <= len(sentences) <= 6
    assert len(summary) <= 1500
    assert len({s.casefold() for s in sentences}) == len(sentences)
    assert sum("passed" in s for s in sentences) == 1
