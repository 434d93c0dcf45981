"""Sentence splitting on hand-made news text with the usual traps."""

from __future__ import annotations

import json

import pytest

from bot.text.sentences import (
    _BOILERPLATE_LINE,
    _INLINE_BOILERPLATE,
    _inline_boilerplate,
    _is_boilerplate,
    clean_text,
    lead_sentences,
    split_sentences,
    strip_dateline,
)
from tests.support import shared_data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. Senate passed the bill. Mr. Smith voted no.",
            ["The U.S. Senate passed the bill.", "Mr. Smith voted no."],
        ),
        (
            "Gen. Milley met Dr. Jones at 3 p.m. on Monday. They spoke for an hour.",
            ["Gen. Milley met Dr. Jones at 3 p.m. on Monday.", "They spoke for an hour."],
        ),
        (
            "Inflation rose 3.5 percent in May. Shares fell $1.20 to $45.10.",
            ["Inflation rose 3.5 percent in May.", "Shares fell $1.20 to $45.10."],
        ),
        (
            '"We will win." he said. "Really?" she asked.',
            ['"We will win." he said.', '"Really?" she asked.'],
        ),
        (
            "Is it over? Not yet! The count goes on.",
            ["Is it over?", "Not yet!", "The count goes on."],
        ),
    ],
)
def test_tricky_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("WASHINGTON (Reuters) — The Senate voted on Tuesday.", "The Senate voted on Tuesday."),
        ("LONDON, March 3 (AP) - Prices rose again this week.", "Prices rose again this week."),
        ("(CNN) -- Rescuers reached the village at dawn.", "Rescuers reached the village at dawn."),
        ("(CNN)Rescuers reached the village at dawn.", "Rescuers reached the village at dawn."),
        ("NEW YORK — Stocks fell sharply on Monday.", "Stocks fell sharply on Monday."),
    ],
)
def test_datelines_are_dropped(text: str, first: str) -> None:
    assert split_sentences(text)[0] == first


def test_ordinary_first_sentence_is_not_taken_for_a_dateline() -> None:
    text = "NASA said on Monday that the launch - planned for May - is delayed."
    assert strip_dateline(text) == text
    assert split_sentences("A vote - the first in years - is due.") == [
        "A vote - the first in years - is due."
    ]


def test_boilerplate_and_byline_lines_are_dropped() -> None:
    text = "\n".join(
        [
            "By Jane Doe and John Roe, Reuters",
            "Published: 12:00 EST, 1 May 2014 | Updated: 12:30 EST, 1 May 2014",
            "The council approved the budget.",
            "Advertisement",
            "Read more: Council news",
            "Scroll down for video",
            "The vote was close. Story continues below",
            "Updated 10:32 a.m. ET",
            "Updated figures were published in 2020.",
            "Share this article",
            "By Tuesday, the money had been spent.",
        ]
    )
    assert split_sentences(text) == [
        "The council approved the budget.",
        "The vote was close.",
        "Updated figures were published in 2020.",
        "By Tuesday, the money had been spent.",
    ]


def test_sentence_final_abbreviations_that_news_uses() -> None:
    text = "Prices rose in May. Shares fell. He joined Apple Inc. The firm grew. Acme Inc. said no."
    assert split_sentences(text) == [
        "Prices rose in May.",
        "Shares fell.",
        "He joined Apple Inc.",
        "The firm grew.",
        "Acme Inc. said no.",
    ]


def test_inline_advertisement_between_sentences_is_removed() -> None:
    text = "The vote was close. Advertisement The result is due on Friday."
    assert split_sentences(text) == ["The vote was close.", "The result is due on Friday."]


def test_paragraphs_never_join_and_whitespace_collapses() -> None:
    text = "First   paragraph ends here\nSecond\u00a0one starts here."
    assert split_sentences(text) == ["First paragraph ends here", "Second one starts here."]
    assert clean_text("  \n\n  ") == []
    assert split_sentences("") == []
    assert split_sentences("... 42 ...") == []


def test_inline_boilerplate_only_between_sentences() -> None:
    # Only a phrase after a sentence end (or at the start) goes; a repeat right after
    # a removed one, or one inside a sentence, stays.
    assert clean_text("Advertisement The vote was close.") == ["The vote was close."]
    assert clean_text("Done. Advertisement Advertisement The end.") == [
        "Done. Advertisement The end."
    ]
    assert clean_text("We saw the Advertisement The Sun ran.") == [
        "We saw the Advertisement The Sun ran."
    ]
    assert clean_text('He left." Scroll down for videos "Next," she said.') == [
        'He left." "Next," she said.'
    ]


def test_every_kind_of_whitespace_collapses_like_str_split() -> None:
    text = "A\tb\u2009c\u3000d e  f\u00a0\u00a0g\u200bh .  Next\x1fone here."
    assert clean_text(text) == [" ".join(text.replace("\u200b", "").split())]
    assert split_sentences("Apple Inc.  The firm grew.") == ["Apple Inc.", "The firm grew."]


def test_ascii_tabs_and_unit_separators_collapse_too() -> None:
    text = "Tab\there  and\x1fthere.   Done\t."
    assert clean_text(text) == [" ".join(text.split())]


LEAD_TEXT = "\n".join(
    [
        "By Jane Doe, Reuters",
        "LONDON (Reuters) - Prices rose in May. Shares fell. 1. The index slid.",
        "Advertisement",
        '"We will win." he said. "Really?" she asked. He joined Apple Inc. The firm grew.',
        "Read more: Markets",
        "Second paragraph here. It has two sentences.",
        "... 42 ...",
        "Last one.",
    ]
)


@pytest.mark.parametrize("text", [LEAD_TEXT, LEAD_TEXT.replace("\n", " "), "", "  \n "])
def test_lead_sentences_are_the_first_of_split_sentences(text: str) -> None:
    everything = split_sentences(text)
    for limit in range(len(everything) + 2):
        assert lead_sentences(text, limit) == everything[:limit]


@pytest.mark.parametrize(
    "line",
    [
        "Advertisement",
        "Share this article",
        "Read more: Council news",
        "Updated 10:32 a.m. ET",
        "Getty Images",
        "© 2024 Example Media",
        "\u017fhare this",  # long s: IGNORECASE matches it to "s"
        "The vote was close.",
        "Shares fell.",
        "Relatedly, the vote was close.",
        "I",
        "",
        "Ad",
        "AP Photo/Jane Doe",
        "Apples fell.",
        "ALL RIGHTS RESERVED",
        "Last updated 12:00 GMT",
        "Sign up for our newsletter",
        "Story continues below",
        "Stocks rose.",
        "Listen 2:30",
        "Adverse weather closed the road.",
    ],
)
def test_boilerplate_prefilter_agrees_with_the_regex(line: str) -> None:
    assert _is_boilerplate(line) == (_BOILERPLATE_LINE.match(line) is not None)


@pytest.mark.parametrize(
    "line",
    [
        "The vote was close. Advertisement The result is due on Friday.",
        "Advertisement Advertisement The end. ADVERTISEMENT  (Bar) xAdvertisement Foo",
        'Scroll down for videos Advertisement "Quote. Scroll down for more Scroll down for video',
        "Scroll down for Advertisement Scroll down for videoX Advertisement",
        "No phrase here at all.",
    ],
)
def test_inline_boilerplate_finder_agrees_with_finditer(line: str) -> None:
    expected = [m.span() for m in _INLINE_BOILERPLATE.finditer(line)]
    assert [m.span() for m in _inline_boilerplate(line)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'He said: "I came. I saw." Then he left. (It was late. Very late.) Next.',
            ['He said: "I came. I saw."', "Then he left.", "(It was late. Very late.) Next."],
        ),
        (
            "She said: 'We can't stop. We won't stop.' The crowd cheered.",
            ["She said: 'We can't stop. We won't stop.'", "The crowd cheered."],
        ),
        (
            "Mr. Smith met J. K. Rowling in the U.S. Senate. She left at 3 p.m. on Friday.",
            ["Mr. Smith met J. K. Rowling in the U.S. Senate.", "She left at 3 p.m. on Friday."],
        ),
        (
            "He lives in Washington, D.C. The city is big. It fell to World War I. Then peace.",
            [
                "He lives in Washington, D.C.",
                "The city is big.",
                "It fell to World War I.",
                "Then peace.",
            ],
        ),
        (
            "It went on, a court has heard.Shocking details emerged. Denver, Colo. police said.",
            [
                "It went on, a court has heard.",
                "Shocking details emerged.",
                "Denver, Colo. police said.",
            ],
        ),
        (
            '"We will win." he said. "Really?" she asked. He joined Apple Inc. The firm grew.',
            [
                '"We will win." he said.',
                '"Really?" she asked.',
                "He joined Apple Inc.",
                "The firm grew.",
            ],
        ),
    ],
)
def test_the_lead_splitter_on_news_traps(text: str, expected: list[str]) -> None:
    # lead_sentences splits with _news_pieces, not sentencex; the fixes are the same.
    assert lead_sentences(text, 10) == expected


def test_the_lead_splitter_checks_abbreviations_at_the_very_start() -> None:
    assert lead_sentences("Mr. Al", 10) == ["Mr. Al"]
    assert lead_sentences("Dr. Who is back. Yes.", 10) == ["Dr. Who is back.", "Yes."]


def _corpus_texts() -> list[str]:
    texts = []
    for name in ("cnndm_dev.jsonl", "bbc_news_summary.jsonl", "xsum_dev.jsonl"):
        with shared_data("summarization", name).open(encoding="utf-8") as rows:
            texts += [json.loads(row)["article"] for row in rows if row.strip()]
    with shared_data("stories", "allsides_dev.jsonl").open(encoding="utf-8") as rows:
        texts += [json.loads(row)["text"] for row in rows if row.strip()]
    return texts


def test_the_lead_splitter_agrees_with_sentencex_on_real_news() -> None:
    """The first ten sentences of 4,204 real articles (CNN/DM, BBC, XSum, AllSides), as
    split by the news splitter and by sentencex with the same fixes. Where they differ it
    is mostly sentencex's whole-paragraph quote heuristics (a stray "'" anywhere changes
    where a quote ends); measured: 84.3% of articles identical, 97.8% of sentences agree
    up to an article's first difference."""
    texts = _corpus_texts()
    same_articles = agreed = compared = 0
    for text in texts:
        expected, got = split_sentences(text)[:10], lead_sentences(text, 10)
        same_articles += expected == got
        for ours, theirs in zip(got, expected, strict=False):
            compared += 1
            if ours != theirs:
                break
            agreed += 1
    print(f"identical leads {same_articles / len(texts):.3f}, sentences {agreed / compared:.4f}")
    assert same_articles / len(texts) >= 0.83
    assert agreed / compared >= 0.97
